/**
 * checkCode's work (RELIABILITY O10): an accepted code may stop at its match, every Reject —
 * wrong, replayed, or right but locked — computes the whole window. Counted by wrapping
 * HotpKey.writeCode, which computes one HMAC per call.
 */
import t from 'tap';
import { checkCode, type OtpPolicy } from '../../src/auth/second-factor.js';
import { HotpKey } from '../../src/otp/direct.js';
import { hotpCode } from '../../src/otp/generate.js';
import { totpStep } from '../../src/otp/step.js';
import { tempStore, totpRecord } from '../helpers/store.js';

const KEY = Buffer.from('12345678901234567890');
const now = 1_700_000_000;
const T = totpStep(now, 30, 0);
const policy: OtpPolicy = { window: 2, hotpLookAhead: 10, maxFailures: 3, unlockAfter: 0 };

let hmacs = 0;
const writeCode = HotpKey.prototype.writeCode;
HotpKey.prototype.writeCode = function (this: HotpKey, out: Buffer, counter: number): boolean {
  hmacs++;
  return writeCode.call(this, out, counter);
};
t.teardown(() => {
  HotpKey.prototype.writeCode = writeCode;
});

function setup(type: 'totp' | 'hotp' = 'totp') {
  const { store } = tempStore({ now: () => now });
  store.tokens.importMany([totpRecord('S', { user: 'alice', secret: KEY, type, counter: 0 })], { replace: false, createUsers: true });
  const check = (code: string) => {
    hmacs = 0;
    const r = checkCode(store.tokens, store.tokens.forUser('alice'), code, now, policy);
    return { ...r, hmacs };
  };
  return { store, check };
}

t.test('TOTP, window ±2: the accepted centre costs one HMAC; wrong, replayed and locked codes cost five', async (t) => {
  const { store, check } = setup();
  t.same(check(hotpCode(KEY, T, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 1 }, 'the current step, accepted');
  t.same(check(hotpCode(KEY, T, 6, 'SHA1')), { ok: false, reason: 'replayed-code', serial: 'S', hmacs: 5 }, 'the same code again');
  t.same(check(hotpCode(KEY, T + 1, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 3 }, 'T+1, the third looked at');
  t.same(check(hotpCode(KEY, T - 1, 6, 'SHA1')), { ok: false, reason: 'replayed-code', serial: 'S', hmacs: 5 }, 'T-1 after T+1: replayed, found second');
  const wrong = hotpCode(KEY, T + 50, 6, 'SHA1');
  t.same(check(wrong), { ok: false, reason: 'wrong-code', serial: 'S', hmacs: 5 });
  t.same(check('12345x'), { ok: false, reason: 'wrong-code', serial: 'S', hmacs: 5 }, 'malformed');
  check(wrong);
  t.equal(store.tokens.get('S')?.lockedAt, now, 'locked at the third failure');
  t.same(check(hotpCode(KEY, T + 2, 6, 'SHA1')), { ok: false, reason: 'locked', serial: 'S', hmacs: 5 }, 'the right code while locked');
  store.close();
});

t.test('a code shared by a used step and the next: accepted as the next, once (not taken for a replay)', async (t) => {
  // RFC 4226 App. D's secret gives 251166 at steps 57,766,335 and 57,766,336 (test/otp/verify.test.ts).
  const T2 = 57_766_336;
  const at = T2 * 30 + 10;
  const { store } = tempStore({ now: () => at });
  store.tokens.importMany([totpRecord('S', { user: 'alice', secret: KEY, counter: 0 })], { replace: false, createUsers: true });
  const check = (code: string) => {
    hmacs = 0;
    return { ...checkCode(store.tokens, store.tokens.forUser('alice'), code, at, policy), hmacs };
  };
  // T−1 accepted from a clock one step behind: drift −1, so T−1 is the centre, looked at first.
  store.tokens.resync(store.tokens.get('S')!.id, { drift: -1, lastStep: T2 - 1, counter: 0 });
  t.same(check('251166'), { ok: true, serial: 'S', hmacs: 3 }, "T's code, also T−1's: accepted as T (T−1, T−2, T)");
  t.equal(store.tokens.get('S')?.lastStep, T2);
  t.same(check('251166'), { ok: false, reason: 'replayed-code', serial: 'S', hmacs: 5 }, 'and not again');
  store.close();
});

t.test('HOTP, look-ahead 10: the next counter costs one HMAC; a code outside it costs eleven', async (t) => {
  const { store, check } = setup('hotp');
  t.same(check(hotpCode(KEY, 0, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 1 });
  t.same(check(hotpCode(KEY, 4, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 4 }, 'counter 4 from counter 1');
  t.same(check(hotpCode(KEY, 15, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 11 }, 'the last of the look-ahead');
  t.equal(store.tokens.get('S')?.counter, 16);
  t.same(check(hotpCode(KEY, 16, 6, 'SHA1')), { ok: true, serial: 'S', hmacs: 1 });
  t.same(check(hotpCode(KEY, 28, 6, 'SHA1')), { ok: false, reason: 'wrong-code', serial: 'S', hmacs: 11 }, 'counter 28 from counter 17');
  store.close();
});
