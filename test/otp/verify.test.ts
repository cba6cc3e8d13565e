import t from 'tap';
import fc from 'fast-check';
import { hotpCode } from '../../src/otp/generate.js';
import { totpStep } from '../../src/otp/step.js';
import type { OtpParams } from '../../src/otp/params.js';
import { isCodeShape, verifyHotp, verifyTotp } from '../../src/otp/verify.js';

const secret = Buffer.from('12345678901234567890');
const totp: OtpParams = { type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0, counter: 0, drift: 0 };
const hotp: OtpParams = { ...totp, type: 'hotp', counter: 5 };
const now = 1111111111;
const T = totpStep(now, 30, 0);
const at = (step: number, p: OtpParams = totp) => hotpCode(secret, step, p.digits, p.algorithm);

t.test('window ±1 (RELIABILITY O3): T-2 rejected; T-1, T, T+1 accepted; T+2 rejected', async (t) => {
  t.equal(verifyTotp(totp, secret, at(T - 2), now, 1), null, 'T-2');
  t.same(verifyTotp(totp, secret, at(T - 1), now, 1), { step: T - 1, drift: -1, unchecked: 1 }, 'T-1, the second step looked at');
  t.same(verifyTotp(totp, secret, at(T), now, 1), { step: T, drift: 0, unchecked: 2 }, 'T, the first step looked at');
  t.same(verifyTotp(totp, secret, at(T + 1), now, 1), { step: T + 1, drift: 1, unchecked: 0 }, 'T+1, the last');
  t.equal(verifyTotp(totp, secret, at(T + 2), now, 1), null, 'T+2');
});

t.test('drift is learned and used (RFC 6238 §6, RELIABILITY O4)', async (t) => {
  const learned = verifyTotp(totp, secret, at(T + 1), now, 1);
  t.has(learned, { step: T + 1, drift: 1 }, 'a code at T+1 gives drift 1');
  const p = { ...totp, drift: 1 };
  t.has(verifyTotp(p, secret, at(T + 2), now, 1), { step: T + 2, drift: 2 }, 'with drift 1, T+2 is accepted');
  t.has(verifyTotp(p, secret, at(T + 1), now, 1), { step: T + 1, drift: 1 });
  t.has(verifyTotp(p, secret, at(T), now, 1), { step: T, drift: 0 }, 'T is the low edge');
  t.equal(verifyTotp(p, secret, at(T - 1), now, 1), null, 'with drift 1, T-1 is rejected');
  const behind = { ...totp, drift: -3 };
  t.has(verifyTotp(behind, secret, at(T - 4), now, 1), { step: T - 4, drift: -4 }, 'negative drift');
  t.equal(verifyTotp(behind, secret, at(T), now, 1), null);
});

// RFC 4226 App. D's secret gives 251166 at steps 57,766,335 and 57,766,336 (found by search).
const SHARED = { code: '251166', first: 57_766_335 };

t.test('two steps of the window with one code: a used step does not hide the later one', async (t) => {
  const T2 = SHARED.first + 1;
  const at2 = T2 * 30 + 10;
  t.equal(at(SHARED.first), SHARED.code);
  t.equal(at(T2), SHARED.code);
  const behind = { ...totp, drift: -1 }; // the centre is T−1, looked at first
  t.same(verifyTotp(behind, secret, SHARED.code, at2, 1), { step: T2 - 1, drift: -1, unchecked: 2 }, 'nothing used: the centre');
  t.same(verifyTotp(behind, secret, SHARED.code, at2, 1, T2 - 1), { step: T2, drift: 0, unchecked: 0 }, 'T−1 used: T, looked at last');
  t.same(verifyTotp(behind, secret, SHARED.code, at2, 1, T2), { step: T2 - 1, drift: -1, unchecked: 0 }, 'both used: the first (a replay), after the whole window');
  t.same(verifyTotp(behind, secret, at(T2 - 2), at2, 1, T2 - 1), { step: T2 - 2, drift: -2, unchecked: 0 }, 'a used step is returned when it is the only match');
  t.same(verifyTotp(totp, secret, SHARED.code, at2, 1, T2 - 1), { step: T2, drift: 0, unchecked: 2 }, 'centred on T: T first');
});

t.test('checks in a row share scratch buffers and keys: each sees only its own secret, algorithm, digits and code', async (t) => {
  const other = Buffer.from('abcdefghijabcdefghij');
  const p8: OtpParams = { ...totp, algorithm: 'SHA256', digits: 8 };
  const code8 = hotpCode(other, T, 8, 'SHA256');
  for (let round = 0; round < 2; round++) {
    t.has(verifyTotp(totp, secret, at(T), now, 1), { step: T, drift: 0 });
    t.equal(verifyTotp(totp, other, at(T), now, 1), null, 'the same code against another secret, right after');
    t.has(verifyTotp(p8, other, code8, now, 1), { step: T, drift: 0 }, '8 digits, SHA-256');
    t.equal(verifyTotp(totp, secret, '12345x', now, 1), null, 'malformed');
    t.has(verifyTotp(totp, secret, at(T), now, 1), { step: T, drift: 0 }, 'a right code right after a malformed one');
    t.equal(verifyTotp(p8, secret, code8, now, 1), null, "another secret's 8-digit code");
  }
});

t.test('window 0 accepts only the centre step', async (t) => {
  t.has(verifyTotp(totp, secret, at(T), now, 0), { step: T, drift: 0 });
  t.equal(verifyTotp(totp, secret, at(T - 1), now, 0), null);
  t.equal(verifyTotp(totp, secret, at(T + 1), now, 0), null);
});

t.test('the step boundary: the last second of a step and the first of the next', async (t) => {
  const start = T * 30;
  t.has(verifyTotp(totp, secret, at(T), start, 0), { step: T, drift: 0 });
  t.has(verifyTotp(totp, secret, at(T), start + 29, 0), { step: T, drift: 0 });
  t.has(verifyTotp(totp, secret, at(T), start + 30, 1), { step: T, drift: -1 });
});

t.test('T0 and period other than 0 and 30', async (t) => {
  const p: OtpParams = { ...totp, period: 60, t0: 1000, digits: 8, algorithm: 'SHA256' };
  const step = totpStep(now, 60, 1000);
  t.has(verifyTotp(p, secret, at(step, p), now, 1), { step, drift: 0 });
  t.equal(verifyTotp(p, secret, at(totpStep(now, 30, 0), p), now, 1), null);
});

t.test('before T0 the steps are negative and nothing matches', async (t) => {
  const p: OtpParams = { ...totp, t0: now + 300 };
  t.equal(totpStep(now, 30, p.t0), -10);
  for (const code of ['000000', '123456', at(0), 'abc', '']) {
    t.equal(verifyTotp(p, secret, code, now, 1), null, `code ${JSON.stringify(code)}`);
  }
  // A window reaching from negative steps into step 0 still finds step 0.
  const edge: OtpParams = { ...totp, t0: now - 10 };
  t.has(verifyTotp(edge, secret, at(0), now, 1), { step: 0, drift: 0 });
});

t.test('HOTP look-ahead (RFC 4226 §7.2, RELIABILITY O3)', async (t) => {
  t.same(verifyHotp(hotp, secret, at(5), 10), { counter: 5, unchecked: 10 }, 'counter, the first looked at');
  t.same(verifyHotp(hotp, secret, at(15), 10), { counter: 15, unchecked: 0 }, 'counter+10 accepted, the last');
  t.equal(verifyHotp(hotp, secret, at(16), 10), null, 'counter+11 rejected');
  t.equal(verifyHotp(hotp, secret, at(4), 10), null, 'counter-1 rejected');
  t.equal(verifyHotp(hotp, secret, at(6), 0), null, 'look-ahead 0: counter+1 rejected');
  t.equal(verifyHotp({ ...hotp, counter: Number.MAX_SAFE_INTEGER }, secret, at(0), 10), null, 'past 2^53-1 nothing matches');
});

t.test('when two counters in the window share a code, the lowest wins', async (t) => {
  // Find the first pair of counters with the same code (a birthday collision among 6-digit codes).
  const seen = new Map<string, number>();
  let pair: [number, number] | undefined;
  for (let c = 0; pair === undefined; c++) {
    const code = at(c);
    const first = seen.get(code);
    if (first === undefined) seen.set(code, c);
    else pair = [first, c];
  }
  const [low, high] = pair;
  t.has(verifyHotp({ ...hotp, counter: low }, secret, at(high), high - low), { counter: low });
  t.has(verifyHotp({ ...hotp, counter: low + 1 }, secret, at(high), high - low), { counter: high });
});

t.test('TOTP looks from the centre outwards, earlier before later; a shared code goes to the step nearest the centre', async (t) => {
  const order = [T, T - 1, T + 1, T - 2, T + 2];
  order.forEach((step, i) => {
    t.same(verifyTotp(totp, secret, at(step), now, 2), { step, drift: step - T, unchecked: order.length - 1 - i }, `step T${step - T >= 0 ? '+' : ''}${step - T}`);
  });
  // The first two steps (from 0) with the same code: with the centre on the later one, the later wins.
  const seen = new Map<string, number>();
  let pair: [number, number] | undefined;
  for (let c = 0; pair === undefined; c++) {
    const first = seen.get(at(c));
    if (first === undefined) seen.set(at(c), c);
    else pair = [first, c];
  }
  const [low, high] = pair;
  const p: OtpParams = { ...totp, drift: high - T };
  t.has(verifyTotp(p, secret, at(high), now, high - low), { step: high }, 'the centre, not the earlier step');
  t.has(verifyTotp({ ...totp, drift: low + 1 - T }, secret, at(high), now, high - low), { step: low }, 'nearer the centre');
});

t.test('isCodeShape: exactly `digits` ASCII digits', async (t) => {
  t.ok(isCodeShape('000000', 6));
  t.ok(isCodeShape('12345678', 8));
  for (const [code, digits] of [
    ['12345', 6],
    ['1234567', 6],
    ['', 6],
    ['12345a', 6],
    ['12 456', 6],
    ['-12345', 6],
    ['１２３４５６', 6],
    ['12345٣', 6],
    ['/12345', 6],
    [':12345', 6],
    ['123456\n', 6],
  ] as const) {
    t.notOk(isCodeShape(code, digits), JSON.stringify(code));
  }
});

t.test('wrong length or non-digit codes are rejected without throwing', async (t) => {
  const good = at(T);
  for (const code of [good.slice(1), `${good}0`, `${good.slice(0, 5)}x`, ' '.repeat(6), '', '\u0000'.repeat(6), `${good} `]) {
    t.equal(verifyTotp(totp, secret, code, now, 1), null, JSON.stringify(code));
    t.equal(verifyHotp({ ...hotp, counter: T }, secret, code, 10), null, JSON.stringify(code));
  }
  t.equal(verifyTotp({ ...totp, digits: 8 }, secret, good, now, 1), null, 'a 6-digit code for an 8-digit token');
});

t.test('property: verifyTotp and verifyHotp never throw for arbitrary strings', async (t) => {
  const code = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 6, maxLength: 6 }),
  );
  fc.assert(
    fc.property(code, fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 3 }), (c, time, window) => {
      const r = verifyTotp(totp, secret, c, time, window);
      const step = totpStep(time, 30, 0);
      const h = verifyHotp(hotp, secret, c, window);
      return (r === null || (Math.abs(r.step - step) <= window && r.drift === r.step - step && at(r.step) === c)) && (h === null || at(h.counter) === c);
    }),
    { numRuns: 500 },
  );
  t.pass('no throw, and every match is a real code inside the window');
});

t.test('a window or look-ahead that is not a non-negative integer is a fault (RangeError)', async (t) => {
  for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => verifyTotp(totp, secret, at(T), now, bad), RangeError, `window ${bad}`);
    t.throws(() => verifyHotp(hotp, secret, at(5), bad), RangeError, `look-ahead ${bad}`);
  }
});
