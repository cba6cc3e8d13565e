import t from 'tap';
import { hotpCode } from '../../src/otp/generate.js';
import { totpStep } from '../../src/otp/step.js';
import type { OtpParams } from '../../src/otp/params.js';
import { resyncHotp, resyncTotp } from '../../src/otp/resync.js';

const secret = Buffer.from('3132333435363738393031323334353637383930', 'hex');
const totp: OtpParams = { type: 'totp', algorithm: 'SHA256', digits: 6, period: 30, t0: 0, counter: 0, drift: 0 };
const hotp: OtpParams = { ...totp, type: 'hotp', algorithm: 'SHA1', counter: 10 };
const now = 1234567890;
const T = totpStep(now, 30, 0);
const at = (c: number, p: OtpParams = totp) => hotpCode(secret, c, p.digits, p.algorithm);

t.test('TOTP resync (RFC 4226 §7.4, RELIABILITY O5): two consecutive codes within ±1000 steps', async (t) => {
  t.same(resyncTotp(totp, secret, at(T + 500), at(T + 501), now), { step: T + 501, drift: 501 }, 'ahead');
  t.same(resyncTotp(totp, secret, at(T - 700), at(T - 699), now), { step: T - 699, drift: -699 }, 'behind');
  t.same(resyncTotp(totp, secret, at(T), at(T + 1), now), { step: T + 1, drift: 1 }, 'no drift');
  t.same(resyncTotp(totp, secret, at(T - 1000), at(T - 999), now), { step: T - 999, drift: -999 }, 'low edge');
  t.same(resyncTotp(totp, secret, at(T + 1000), at(T + 1001), now), { step: T + 1001, drift: 1001 }, 'high edge');
});

t.test('TOTP resync refuses codes beyond the range, out of order or not consecutive', async (t) => {
  t.equal(resyncTotp(totp, secret, at(T - 1001), at(T - 1000), now), null, 'first code below the range');
  t.equal(resyncTotp(totp, secret, at(T + 1001), at(T + 1002), now), null, 'beyond the range');
  t.equal(resyncTotp(totp, secret, at(T + 5), at(T + 7), now), null, 'a step apart');
  t.equal(resyncTotp(totp, secret, at(T + 6), at(T + 5), now), null, 'reversed');
  t.equal(resyncTotp(totp, secret, at(T + 5), at(T + 5), now), null, 'the same code twice');
  t.same(resyncTotp(totp, secret, at(T + 50), at(T + 51), now, 50), { step: T + 51, drift: 51 }, 'a smaller range');
  t.equal(resyncTotp(totp, secret, at(T + 51), at(T + 52), now, 50), null, 'beyond a smaller range');
});

t.test('TOTP resync before T0 skips the negative steps', async (t) => {
  const p: OtpParams = { ...totp, t0: now + 30 * 100 };
  t.equal(totpStep(now, 30, p.t0), -100);
  t.same(resyncTotp(p, secret, at(0), at(1), now), { step: 1, drift: 101 });
  t.equal(resyncTotp(p, secret, at(0), at(0), now), null);
});

t.test('HOTP resync: counters from p.counter to p.counter+range', async (t) => {
  t.same(resyncHotp(hotp, secret, at(10, hotp), at(11, hotp)), { nextCounter: 12 }, 'at the counter');
  t.same(resyncHotp(hotp, secret, at(400, hotp), at(401, hotp)), { nextCounter: 402 });
  t.same(resyncHotp(hotp, secret, at(1010, hotp), at(1011, hotp)), { nextCounter: 1012 }, 'high edge');
  t.equal(resyncHotp(hotp, secret, at(1011, hotp), at(1012, hotp)), null, 'beyond the range');
  t.equal(resyncHotp(hotp, secret, at(9, hotp), at(10, hotp)), null, 'below the counter');
  t.equal(resyncHotp(hotp, secret, at(400, hotp), at(402, hotp)), null, 'not consecutive');
  t.same(resyncHotp(hotp, secret, at(15, hotp), at(16, hotp), 5), { nextCounter: 17 }, 'range 5');
  t.equal(resyncHotp(hotp, secret, at(16, hotp), at(17, hotp), 5), null);
  t.equal(resyncHotp({ ...hotp, counter: Number.MAX_SAFE_INTEGER }, secret, at(0, hotp), at(1, hotp), 3), null, 'near 2^53');
});

t.test('malformed codes and bad ranges', async (t) => {
  const good = at(T);
  for (const [a, b] of [
    ['12345', good],
    [good, '12345a'],
    ['', ''],
    [`${good} `, good],
  ]) {
    t.equal(resyncTotp(totp, secret, a as string, b as string, now), null, `${JSON.stringify(a)} ${JSON.stringify(b)}`);
    t.equal(resyncHotp(hotp, secret, a as string, b as string), null);
  }
  t.throws(() => resyncTotp(totp, secret, good, good, now, -1), RangeError);
  t.throws(() => resyncHotp(hotp, secret, good, good, 1.5), RangeError);
});
