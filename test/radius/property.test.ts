import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { precheck, checkMessageAuthenticator } from '../../src/radius/precheck.js';
import { parseAccessRequest } from '../../src/radius/request.js';
import { encodeAccessRequest, readAttributes, verifyReply } from '../../src/radius/request-encode.js';
import { attribute, encodeReply } from '../../src/radius/reply.js';

// RELIABILITY §2 "Fuzzing for us": any bytes never throw and never pass; round trips are stable.
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/radius/${name}`, import.meta.url), 'utf8'));
const secret = Buffer.from('testing123');
const v3 = fixture('rfc2865.json');
const v4 = fixture('v4.json');
const malformed = fixture('malformed.json');
const seeds: Buffer[] = [
  ...v3.vectors.map((v: { request: string }) => Buffer.from(v.request, 'hex')),
  Buffer.from(v4.request, 'hex'),
  ...malformed.rows.map((r: { hex: string }) => Buffer.from(r.hex, 'hex')),
  encodeAccessRequest({ identifier: 1, authenticator: Buffer.alloc(16, 3), secret, userName: 'bob', password: 'pw', nasIdentifier: 'n' }),
  encodeAccessRequest({ identifier: 2, authenticator: Buffer.alloc(16, 4), secret, userName: 'bob', password: 'pw', messageAuthenticator: 'last',
    extra: [attribute(33, 'ps'), attribute(79, Buffer.from([2, 0, 0, 4])), attribute(26, Buffer.from([0, 0, 1, 55, 25, 4, 0, 0]))] }),
];

/** The server's pipeline: precheck → MA check → parse. Returns the MA outcome or the precheck reason. */
function pipeline(datagram: Buffer, required: boolean, s: Buffer = secret): string {
  const r = precheck(datagram);
  if (!r.ok) return r.reason;
  const packet = datagram.subarray(0, r.view.length);
  const ma = checkMessageAuthenticator(packet, r.view, s, required);
  parseAccessRequest(packet, s); // parsed whatever the outcome, to prove it cannot throw
  return ma;
}

/** A datagram that usually gets past the header checks: code 1 or 12, Length within the buffer. */
const headered = fc
  .tuple(fc.constantFrom(1, 12), fc.uint8Array({ minLength: 20, maxLength: 400 }), fc.nat(400))
  .map(([code, bytes, extraLen]) => {
    const b = Buffer.from(bytes);
    b[0] = code;
    b.writeUInt16BE(Math.min(b.length, 20 + extraLen), 2);
    return b;
  });

const mutated = fc
  .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([seed, edits]) => {
    const b = Buffer.from(seed);
    for (const [pos, val] of edits) b[pos % b.length] = val;
    return { seed, b };
  })
  .filter(({ seed, b }) => !seed.equals(b));

t.test('any bytes: the pipeline never throws, and never passes a required MA check', async (t) => {
  for (const arb of [fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)), headered]) {
    fc.assert(
      fc.property(arb, (b) => {
        pipeline(b, false);
        return pipeline(b, true) !== 'ok';
      }),
      { numRuns: 3000 },
    );
  }
  t.pass('held');
});

t.test('mutated valid packets: never throw; a changed signed packet never passes', async (t) => {
  fc.assert(
    fc.property(mutated, ({ b }) => {
      pipeline(b, false, Buffer.from('xyzzy5461'));
      pipeline(b, false);
      const out = pipeline(b, true);
      // A mutation that leaves MA intact but drops it from Length, or removes it, is ma-missing; never ok.
      return out !== 'ok';
    }),
    { numRuns: 3000 },
  );
  t.pass('held');
});

t.test('well-formed random requests: signed ones pass, parse never throws', async (t) => {
  const tlv = fc.tuple(fc.integer({ min: 1, max: 255 }).filter((x) => x !== 80 && x !== 2), fc.uint8Array({ minLength: 1, maxLength: 40 }))
    .map(([type, v]) => attribute(type, Buffer.from(v)));
  fc.assert(
    fc.property(fc.array(tlv, { maxLength: 40 }), fc.constantFrom('first', 'last') as fc.Arbitrary<'first' | 'last'>, fc.uint8Array({ minLength: 16, maxLength: 16 }), (extra, where, auth) => {
      const p = encodeAccessRequest({ identifier: 5, authenticator: Buffer.from(auth), secret, extra, messageAuthenticator: where });
      const r = precheck(p);
      if (!r.ok) return false;
      if (checkMessageAuthenticator(p, r.view, secret, true) !== 'ok') return false;
      if (checkMessageAuthenticator(p, r.view, Buffer.from('testing124'), true) !== 'ma-invalid') return false;
      const req = parseAccessRequest(p, secret);
      return req.proxyStates.length === extra.filter((a) => a[0] === 33).length;
    }),
    { numRuns: 1000 },
  );
  t.pass('held');
});

t.test('User-Password round trip for random passwords of 1..128 bytes (RFC 2865 §5.2)', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 128 }),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (pw, sec, auth) => {
        const password = Buffer.from(pw);
        const s = Buffer.from(sec);
        const p = encodeAccessRequest({ identifier: 0, authenticator: Buffer.from(auth), secret: s, userName: 'u', password, nasIdentifier: 'n' });
        const req = parseAccessRequest(p, s);
        let n = password.length;
        while (n > 0 && password[n - 1] === 0) n--; // NUL padding is indistinguishable from trailing NULs
        return req.problem === undefined && req.password!.equals(password.subarray(0, n));
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('held');
});

t.test('reply encode → decode is stable and always verifies with MA first', async (t) => {
  const tlv = fc.tuple(fc.integer({ min: 1, max: 255 }).filter((x) => x !== 80), fc.uint8Array({ minLength: 1, maxLength: 60 }))
    .map(([type, v]) => attribute(type, Buffer.from(v)));
  fc.assert(
    fc.property(fc.array(tlv, { maxLength: 30 }), fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 5 }), fc.constantFrom(2, 3, 11), (attrs, ps, code) => {
      const ra = Buffer.alloc(16, 0x5a);
      const proxyStates = ps.map((x) => Buffer.from(x));
      const reply = encodeReply({ code, identifier: 9, requestAuthenticator: ra, secret, attributes: attrs, proxyStates });
      const v = verifyReply(reply, ra, secret);
      const back = readAttributes(reply);
      const expected = [...attrs.map((a) => [a[0], a.subarray(2)] as const), ...proxyStates.map((p) => [33, p] as const)];
      return v.ok && v.maFirst && back.length === expected.length + 1 && back.slice(1).every((a, i) => a.type === expected[i]![0] && a.value.equals(expected[i]![1]));
    }),
    { numRuns: 1000 },
  );
  t.pass('held');
});
