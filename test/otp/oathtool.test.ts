import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { hotpCode } from '../../src/otp/generate.js';
import { totpStep } from '../../src/otp/step.js';
import type { OtpParams } from '../../src/otp/params.js';
import { verifyHotp, verifyTotp } from '../../src/otp/verify.js';
import type { OtpAlgorithm, OtpDigits } from '../../src/tokens/record.js';

// Cross-check against a real peer: OATH Toolkit's oathtool (Debian package oathtool).
const oathtool = (...args: string[]) => execFileSync('oathtool', args, { encoding: 'utf8' }).trim();

const ALGORITHMS: OtpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];
const DIGITS: OtpDigits[] = [6, 8];

t.test('TOTP: oathtool --totp=sha1|sha256|sha512 -d 6|8 matches hotpCode and verifyTotp', async (t) => {
  for (let i = 0; i < 4; i++) {
    const secret = randomBytes(20);
    const hex = secret.toString('hex');
    // Up to year ~2200, past 2^32 seconds, so the step needs more than 32 bits of time.
    const epoch = randomInt(0, 2 ** 33);
    const step = totpStep(epoch, 30, 0);
    for (const algorithm of ALGORITHMS) {
      for (const digits of DIGITS) {
        const expected = oathtool(`--totp=${algorithm.toLowerCase()}`, '-d', String(digits), '-s', '30s', '-N', `@${epoch}`, hex);
        t.equal(hotpCode(secret, step, digits, algorithm), expected, `hotpCode ${algorithm} ${digits} @${epoch}`);
        const p: OtpParams = { type: 'totp', algorithm, digits, period: 30, t0: 0, counter: 0, drift: 0 };
        t.has(verifyTotp(p, secret, expected, epoch, 0), { step, drift: 0 });
        t.has(verifyTotp(p, secret, expected, epoch + 30, 1), { step, drift: -1 }, 'one step later, window 1');
      }
    }
  }
});

t.test('HOTP: oathtool -c <counter> matches hotpCode and verifyHotp', async (t) => {
  for (let i = 0; i < 4; i++) {
    const secret = randomBytes(20);
    const hex = secret.toString('hex');
    for (const counter of [randomInt(0, 1000), randomInt(0, 2 ** 48 - 1)]) {
      for (const digits of DIGITS) {
        const expected = oathtool('-c', String(counter), '-d', String(digits), hex);
        t.equal(hotpCode(secret, counter, digits, 'SHA1'), expected, `hotpCode counter ${counter} digits ${digits}`);
        const p: OtpParams = { type: 'hotp', algorithm: 'SHA1', digits, period: 30, t0: 0, counter: Math.max(0, counter - 3), drift: 0 };
        t.has(verifyHotp(p, secret, expected, 10), { counter });
      }
    }
  }
});
