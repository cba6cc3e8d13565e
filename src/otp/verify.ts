/**
 * Code verification (RFC 4226 §7.2, RFC 6238 §5.2 and §6). Pure: time and counter come in,
 * the match goes out, and the caller commits it atomically (replay is the store's check).
 *
 * The search stops at the first match, and a match says how many codes of its range it left
 * unchecked. A caller that does not accept the match (a locked token, a replayed code) spends
 * those with spendChecks, so every Reject has done the whole range's work: one HMAC and one
 * crypto.timingSafeEqual per code, a malformed code included. Only an Access-Accept, which
 * says as much itself, comes back sooner. TOTP looks at the centre step first, where nearly
 * every code is, so an accepted code usually costs one HMAC instead of 2 × window + 1.
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

/** A code found in a range, and how many of the range's codes were not computed. */
export interface Found {
  counter: number;
  unchecked: number;
}

/**
 * The first counter whose code equals `code`, in this order over `count` counters: ascending
 * from `first` (HOTP), or, with `fromCentre`, `first`, first−1, first+1, first−2, … (TOTP, the
 * centre and then outwards, earlier before later). Null, after one HMAC and one comparison per
 * counter, when none does. The loop runs on an index, not on the counter: near 2^53
 * `counter + 1` stops changing, and such counters never match.
 *
 * A counter at or below `usedThrough` (already accepted, so never accepted again) is passed over
 * while a later one of the range may match too: two steps of a window share a 6-digit code about
 * once in 10^6, and the user's code for step T must not be taken for the used step T−1 and
 * refused as a replay. Only when none later matches is the used one returned (the caller's commit
 * then refuses it: a replay).
 */
function findCounter(
  secret: Buffer,
  code: string,
  digits: number,
  algorithm: OtpAlgorithm,
  first: number,
  count: number,
  fromCentre: boolean,
  usedThrough = -Infinity,
): Found | null {
  const shapeOk = isCodeShape(code, digits);
  const { given, expected } = scratchFor(digits);
  // A malformed code is compared as bytes no code can be, so it costs the same and never matches.
  if (shapeOk) given.write(code, 'latin1');
  else given.fill(0);
  let found: Found | null = null;
  let used: Found | null = null;
  const key = HotpKey.reused(secret, algorithm);
  for (let i = 0; i < count; i++) {
    const c = fromCentre ? first + (i % 2 === 1 ? -(i + 1) / 2 : i / 2) : first + i;
    const counterOk = key.writeCode(expected, c);
    if (timingSafeEqual(expected, given) && shapeOk && counterOk) {
      if (c <= usedThrough) {
        used ??= { counter: c, unchecked: 0 };
        continue;
      }
      found = { counter: c, unchecked: count - i - 1 };
      break;
    }
  }
  key.destroy();
  given.fill(0);
  expected.fill(0);
  return found ?? used;
}

/**
 * The work of `n` unchecked codes (Found.unchecked), done and thrown away: one HMAC keyed with
 * `secret` and one comparison each, as findCounter does per code, so a match that is not
 * accepted costs what a miss costs.
 */
export function spendChecks(secret: Buffer, algorithm: OtpAlgorithm, digits: number, n: number): void {
  // The empty code is malformed for every length, so findCounter computes all n and matches none.
  findCounter(secret, '', digits, algorithm, 0, n, false);
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
 * step, from the centre outwards. Returns the matched step, the drift it implies (step − T) and
 * the steps left unchecked, or null. `lastStep`, the step last accepted, only orders the search
 * (a later step that shares the code wins, findCounter): the replay check is the caller's, which
 * accepts only step > its stored last step, in one atomic store transition.
 */
export function verifyTotp(
  p: OtpParams,
  secret: Buffer,
  code: string,
  nowSeconds: number,
  window: number,
  lastStep: number | null = null,
): { step: number; drift: number; unchecked: number } | null {
  checkWidth('window', window);
  const t = totpStep(nowSeconds, p.period, p.t0);
  const found = findCounter(secret, code, p.digits, p.algorithm, t + p.drift, 2 * window + 1, true, lastStep ?? -Infinity);
  return found === null ? null : { step: found.counter, drift: found.counter - t, unchecked: found.unchecked };
}

/**
 * HOTP (RFC 4226 §7.2): searches counters p.counter … p.counter+lookAhead, lowest first.
 * Returns the matched counter and the counters left unchecked, or null; the caller stores
 * matched+1 as the next counter.
 */
export function verifyHotp(p: OtpParams, secret: Buffer, code: string, lookAhead: number): Found | null {
  checkWidth('look-ahead', lookAhead);
  return findCounter(secret, code, p.digits, p.algorithm, p.counter, lookAhead + 1, false);
}
