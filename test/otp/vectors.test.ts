import t from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeCode } from '../../src/otp/direct.js';
import { hotpCode } from '../../src/otp/generate.js';
import { totpStep } from '../../src/otp/step.js';
import type { OtpParams } from '../../src/otp/params.js';
import { verifyHotp, verifyTotp } from '../../src/otp/verify.js';
import { base32Decode } from '../../src/tokens/base32.js';
import type { OtpAlgorithm, OtpDigits } from '../../src/tokens/record.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/otp/${name}`, import.meta.url), 'utf8'));

interface Rfc4226 {
  secretAscii: string;
  secretBase32: string;
  digits: OtpDigits;
  algorithm: OtpAlgorithm;
  truncated: Array<{ counter: number; value: string }>;
  vectors: Array<{ counter: number; code: string }>;
}
interface Rfc6238 {
  digits: OtpDigits;
  period: number;
  t0: number;
  seedsAscii: Record<OtpAlgorithm, string>;
  vectors: Array<{ time: number; stepHex: string } & Record<OtpAlgorithm, string>>;
  trap: { algorithm: OtpAlgorithm; seedAscii: string; time: number; code: string };
}

const ALGORITHMS: OtpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

t.test('RFC 4226 Appendix D (V1): counters 0-9', async (t) => {
  const v = fixture('rfc4226.json') as Rfc4226;
  const secret = Buffer.from(v.secretAscii, 'ascii');
  const decoded = base32Decode(v.secretBase32);
  t.ok(decoded.ok && decoded.bytes.equals(secret), 'the Base32 form is the same secret');
  t.equal(v.vectors.length, 10);
  const p: OtpParams = { type: 'hotp', algorithm: v.algorithm, digits: v.digits, period: 30, t0: 0, counter: 0, drift: 0 };
  for (const { counter, code } of v.vectors) {
    t.equal(hotpCode(secret, counter, v.digits, v.algorithm), code, `hotpCode counter ${counter}`);
    const out = Buffer.alloc(v.digits);
    t.ok(writeCode(out, secret, counter, v.algorithm));
    t.equal(out.toString('latin1'), code, `direct counter ${counter}`);
    t.has(verifyHotp({ ...p, counter }, secret, code, 0), { counter }, `verifyHotp counter ${counter}`);
  }
  for (const { counter, value } of v.truncated) {
    // Ten digits hold the whole 31-bit dynamic-truncation value (RFC 4226 §5.4).
    const out = Buffer.alloc(value.length);
    t.ok(writeCode(out, secret, counter, v.algorithm));
    t.equal(out.toString('latin1'), value, `truncated value counter ${counter}`);
  }
});

t.test('RFC 6238 Appendix B (V2): every row, SHA1/SHA256/SHA512 with their own seeds, 8 digits', async (t) => {
  const v = fixture('rfc6238.json') as Rfc6238;
  t.equal(v.vectors.length, 6);
  for (const row of v.vectors) {
    const step = totpStep(row.time, v.period, v.t0);
    t.equal(step, parseInt(row.stepHex, 16), `T at t=${row.time}`);
    for (const algorithm of ALGORITHMS) {
      const secret = Buffer.from(v.seedsAscii[algorithm], 'ascii');
      const code = row[algorithm];
      t.equal(hotpCode(secret, step, v.digits, algorithm), code, `hotpCode ${algorithm} t=${row.time}`);
      const p: OtpParams = { type: 'totp', algorithm, digits: v.digits, period: v.period, t0: v.t0, counter: 0, drift: 0 };
      t.has(verifyTotp(p, secret, code, row.time, 0), { step, drift: 0 }, `verifyTotp ${algorithm} t=${row.time}`);
    }
  }
  t.equal(Buffer.from(v.seedsAscii.SHA256).length, 32);
  t.equal(Buffer.from(v.seedsAscii.SHA512).length, 64);
});

t.test('the seed trap: the 20-byte seed under SHA256 gives the wrong t=59 value, not the vector', async (t) => {
  const v = fixture('rfc6238.json') as Rfc6238;
  const step = totpStep(v.trap.time, v.period, v.t0);
  const wrong = hotpCode(Buffer.from(v.trap.seedAscii), step, v.digits, v.trap.algorithm);
  t.equal(wrong, v.trap.code);
  t.not(wrong, v.vectors[0]?.SHA256);
});

t.test('totpStep honours T0 and the period', async (t) => {
  t.equal(totpStep(59, 30, 0), 1);
  t.equal(totpStep(60, 30, 0), 2);
  t.equal(totpStep(1000, 60, 100), 15);
  t.equal(totpStep(0, 30, 100), -4, 'before T0 the step is negative');
});

t.test('hotpCode keeps leading zeros and throws on counters outside 0 … 2^53-1', async (t) => {
  const secret = Buffer.from('12345678901234567890');
  // RFC 6238 App. B SHA1 t=1111111109 is 07081804 (step 0x23523EC).
  t.equal(hotpCode(secret, 0x23523ec, 8, 'SHA1'), '07081804');
  t.equal(hotpCode(secret, 0x23523ec, 7, 'SHA1'), '7081804');
  t.equal(hotpCode(secret, Number.MAX_SAFE_INTEGER, 6, 'SHA1').length, 6);
  t.throws(() => hotpCode(secret, -1, 6, 'SHA1'));
  t.throws(() => hotpCode(secret, 2 ** 53, 6, 'SHA1'));
});

t.test('the direct computation agrees with otplib everywhere, including 64-bit counters', async (t) => {
  const secret = Buffer.from('3132333435363738393031323334353637383930aabbccdd', 'hex');
  const counters = [0, 1, 255, 256, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
  for (const algorithm of ALGORITHMS) {
    for (const digits of [6, 7, 8] as const) {
      for (const c of counters) {
        const out = Buffer.alloc(digits);
        t.ok(writeCode(out, secret, c, algorithm));
        t.equal(out.toString('latin1'), hotpCode(secret, c, digits, algorithm), `${algorithm} ${digits} ${c}`);
      }
    }
  }
  const out = Buffer.from('untouched');
  for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.notOk(writeCode(out, secret, bad, 'SHA1'), `refuses counter ${bad}`);
  }
  t.equal(out.toString(), 'untouched');
});

t.test('secrets of every length, longer than the hash block too (RFC 2104 §2: hashed first), agree with createHmac', async (t) => {
  for (const algorithm of ALGORITHMS) {
    for (const length of [1, 16, 20, 63, 64, 65, 127, 128, 129, 200]) {
      const secret = randomBytes(length);
      for (const c of [0, 7, 2 ** 32 + 5]) {
        const counter = Buffer.alloc(8);
        counter.writeUInt32BE(Math.floor(c / 2 ** 32), 0);
        counter.writeUInt32BE(c >>> 0, 4);
        const h = createHmac(algorithm.toLowerCase(), secret).update(counter).digest();
        const expected = String((h.readUInt32BE((h[h.length - 1] as number) & 0x0f) & 0x7fffffff) % 1e8).padStart(8, '0');
        const out = Buffer.alloc(8);
        t.ok(writeCode(out, secret, c, algorithm));
        t.equal(out.toString('latin1'), expected, `${algorithm}, ${length}-byte secret, counter ${c}`);
      }
    }
  }
});
