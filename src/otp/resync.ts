/**
 * Resynchronisation with two consecutive codes (RFC 4226 §7.4; RELIABILITY O5: sync window 1000,
 * as privacyIDEA and LinOTP). Pure: the caller stores the result.
 */
import { timingSafeEqual } from 'node:crypto';
import type { OtpAlgorithm } from '../tokens/record.js';
import { checkWidth, HotpKey } from './direct.js';
import { totpStep } from './step.js';
import type { OtpParams } from './params.js';
import { isCodeShape } from './verify.js';

/** The lowest c in from … from+count−1 with code1 at c and code2 at c+1, or null. */
function findPair(
  secret: Buffer,
  code1: string,
  code2: string,
  digits: number,
  algorithm: OtpAlgorithm,
  from: number,
  count: number,
): number | null {
  if (!isCodeShape(code1, digits) || !isCodeShape(code2, digits)) return null;
  const a = Buffer.from(code1, 'latin1');
  const b = Buffer.from(code2, 'latin1');
  let previous = Buffer.alloc(digits);
  let previousOk = false;
  let found: number | null = null;
  const key = new HotpKey(secret, algorithm);
  // An index, not the counter, drives the loop (near 2^53 `c + 1` stops changing).
  for (let i = 0; i <= count; i++) {
    const c = from + i;
    const current = Buffer.alloc(digits);
    const currentOk = key.writeCode(current, c);
    // (c − 1, c) is the candidate pair; compare both halves every time, whatever matched before.
    const first = timingSafeEqual(previous, a);
    const second = timingSafeEqual(current, b);
    if (first && second && previousOk && currentOk && found === null) found = c - 1;
    previous = current;
    previousOk = currentOk;
  }
  key.destroy();
  return found;
}

/**
 * TOTP: finds s in [T−range, T+range] with code1 at step s and code2 at s+1. Returns the step of
 * code2 (store it as the last used step) and the drift it implies (step − T), or null.
 */
export function resyncTotp(
  p: OtpParams,
  secret: Buffer,
  code1: string,
  code2: string,
  nowSeconds: number,
  range = 1000,
): { step: number; drift: number } | null {
  checkWidth('resync range', range);
  const t = totpStep(nowSeconds, p.period, p.t0);
  const s = findPair(secret, code1, code2, p.digits, p.algorithm, t - range, 2 * range + 1);
  return s === null ? null : { step: s + 1, drift: s + 1 - t };
}

/**
 * HOTP: finds c in [p.counter, p.counter+range] with code1 at c and code2 at c+1. Returns the
 * counter to expect next (c+2), or null.
 */
export function resyncHotp(
  p: OtpParams,
  secret: Buffer,
  code1: string,
  code2: string,
  range = 1000,
): { nextCounter: number } | null {
  checkWidth('resync range', range);
  const c = findPair(secret, code1, code2, p.digits, p.algorithm, p.counter, range + 1);
  return c === null ? null : { nextCounter: c + 2 };
}
