/**
 * The second factor: a code against the user's tokens. Verification is pure (otp/); this stage
 * applies lockout (RFC 4226 §7.3) and commits the match with the store's atomic replay guard
 * (RFC 6238 §5.2, RFC 4226 §7.2).
 */
import type { DenialReason } from '../audit/event.js';
import { spendChecks, verifyHotp, verifyTotp } from '../otp/verify.js';
import type { TokenState, TokenStore, TokenWithSecret } from '../store/types.js';

export interface OtpPolicy {
  window: number;
  hotpLookAhead: number;
  maxFailures: number;
  /** Seconds after which a lock lifts by itself; 0 = never. */
  unlockAfter: number;
}

export type CodeCheck = { ok: true; serial: string } | { ok: false; reason: DenialReason; serial: string };

/** Enabled and inside its validity period (PSKC StartDate/ExpiryDate). */
export const isActive = (t: Pick<TokenState, 'enabled' | 'validFrom' | 'validUntil'>, now: number): boolean =>
  t.enabled && (t.validFrom === null || now >= t.validFrom) && (t.validUntil === null || now < t.validUntil);

/** Why a user with tokens has none to use. */
export function inactiveReason(owned: readonly TokenWithSecret[]): DenialReason {
  if (owned.length === 0) return 'no-token';
  return owned.some((o) => o.token.enabled) ? 'expired-token' : 'disabled-token';
}

export function checkCode(
  store: TokenStore,
  owned: readonly TokenWithSecret[],
  code: string,
  now: number,
  policy: OtpPolicy,
): CodeCheck {
  // Active tokens with as many digits as the code (a loop: no closures or arrays per request).
  let anyActive = false;
  const candidates: TokenWithSecret[] = [];
  for (const o of owned) {
    if (!isActive(o.token, now)) continue;
    anyActive = true;
    if (o.token.digits === code.length) candidates.push(o);
  }
  if (!anyActive) return { ok: false, reason: inactiveReason(owned), serial: '' };
  let lockedMatch = '';
  let replayed = '';
  let anyUnlocked = false;
  for (const { token, secret } of candidates) {
    const locked = isLocked(store, token, now, policy);
    if (!locked) anyUnlocked = true;
    const match = token.type === 'totp' ? verifyTotp(token, secret, code, now, policy.window, token.lastStep) : verifyHotp(token, secret, code, policy.hotpLookAhead);
    if (match === null) continue;
    const committed =
      !locked && ('step' in match ? store.commitTotp(token.id, match.step, match.drift, now) : store.commitHotp(token.id, match.counter + 1, now));
    if (committed) return { ok: true, serial: token.serial };
    // Not accepted: the codes the search skipped are computed anyway, so this Reject took as
    // long as a wrong code's (RELIABILITY O10).
    spendChecks(secret, token.algorithm, token.digits, match.unchecked);
    if (locked) lockedMatch ||= token.serial;
    else replayed ||= token.serial;
  }
  // No accepted code: every usable token of that length counts a failure (RFC 4226 §7.3).
  for (const { token } of candidates) {
    if (token.lockedAt === null) store.recordFailure(token.id, now, policy.maxFailures);
  }
  if (lockedMatch || (!anyUnlocked && candidates.length > 0)) return { ok: false, reason: 'locked', serial: lockedMatch || (candidates[0] as TokenWithSecret).token.serial };
  if (replayed) return { ok: false, reason: 'replayed-code', serial: replayed };
  return { ok: false, reason: 'wrong-code', serial: candidates.length === 1 ? (candidates[0] as TokenWithSecret).token.serial : '' };
}

/** Locked at max_failures; an expired lock (otp.unlock_after) is lifted in the store first. */
function isLocked(store: TokenStore, token: TokenState, now: number, policy: OtpPolicy): boolean {
  if (token.lockedAt === null && token.failures < policy.maxFailures) return false;
  if (policy.unlockAfter > 0 && token.lockedAt !== null && now >= token.lockedAt + policy.unlockAfter) {
    store.unlock(token.serial);
    token.lockedAt = null;
    token.failures = 0;
    return false;
  }
  return true;
}
