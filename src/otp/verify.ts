/**
 * Code verification (RFC 4226 §7.2, RFC 6238 §5.2 and §6). Pure: time and counter come in,
 * the match goes out, and the caller commits it atomically (replay is the store's check).
 *
 * Every call computes and compares every code in its window with crypto.timingSafeEqual, even
 * after a match and even for a malformed code, so neither the time taken nor the work done
 * says where (or whether) a code matched.
 */
import { timingSafeEqual } from 'node:crypto';
import type { OtpAlgorithm } from '../tokens/record.js';
import { checkWidth, HotpKey } from './direct.js';
import { totpStep } from './step.js';
import type { OtpParams } from './params.js';

/** Exactly `digits` ASCII digits 0-9 (RFC 4226 §5.3 Digit). */
export function isCodeShape(code: string, digits: number): boolean {
  if (code.length !== digits) return false;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The lowest counter in from … from+count−1 whose code equals `code`, or null. Does the same
 * work (one HMAC and one comparison per counter) whatever matches. The loop runs on an index,
 * not on the counter: near 2^53 `counter + 1` stops changing, and such counters never match.
 */
function findCounter(
  secret: Buffer,
  code: string,
  digits: number,
  algorithm: OtpAlgorithm,
  from: number,
  count: number,
): number | null {
  const shapeOk = isCodeShape(code, digits);
  const { given, expected } = scratchFor(digits);
  // A malformed code is compared as bytes no code can be, so it costs the same and never matches.
  if (shapeOk) given.write(code, 'latin1');
  else given.fill(0);
  let found: number | null = null;
  const key = HotpKey.reused(secret, algorithm);
  for (let i = 0; i < count; i++) {
    const c = from + i;
    const counterOk = key.writeCode(expected, c);
    const equal = timingSafeEqual(expected, given);
    if (equal && shapeOk && counterOk && found === null) found = c;
  }
  key.destroy();
  given.fill(0);
  expected.fill(0);
  return found;
}

/** Two `digits`-byte buffers per code length, reused by every (synchronous) findCounter. */
const SCRATCH = new Map<number, { given: Buffer; expected: Buffer }>();
function scratchFor(digits: number): { given: Buffer; expected: Buffer } {
  let s = SCRATCH.get(digits);
  if (s === undefined) SCRATCH.set(digits, (s = { given: Buffer.alloc(digits), expected: Buffer.alloc(digits) }));
  return s;
}

/**
 * TOTP (RFC 6238 §5.2, §6): searches steps T+drift−window … T+drift+window, T the current
 * step. Returns the matched step and the drift it implies (step − T), or null. No replay check:
 * the caller accepts only step > its stored last step, in one atomic store transition.
 */
export function verifyTotp(
  p: OtpParams,
  secret: Buffer,
  code: string,
  nowSeconds: number,
  window: number,
): { step: number; drift: number } | null {
  checkWidth('window', window);
  const t = totpStep(nowSeconds, p.period, p.t0);
  const centre = t + p.drift;
  const step = findCounter(secret, code, p.digits, p.algorithm, centre - window, 2 * window + 1);
  return step === null ? null : { step, drift: step - t };
}

/**
 * HOTP (RFC 4226 §7.2): searches counters p.counter … p.counter+lookAhead. Returns the matched
 * counter, or null; the caller stores matched+1 as the next counter.
 */
export function verifyHotp(p: OtpParams, secret: Buffer, code: string, lookAhead: number): { counter: number } | null {
  checkWidth('look-ahead', lookAhead);
  const counter = findCounter(secret, code, p.digits, p.algorithm, p.counter, lookAhead + 1);
  return counter === null ? null : { counter };
}
