import t from 'tap';
import { createHmac } from 'node:crypto';
import { encodeAccessRequest, readAttributes, verifyReply } from '../../src/radius/request-encode.js';
import { encodeReply, attribute } from '../../src/radius/reply.js';
import { precheck, checkMessageAuthenticator } from '../../src/radius/precheck.js';
import { parseAccessRequest } from '../../src/radius/request.js';
import { Attr, Code } from '../../src/radius/codes.js';

const A = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex');
const secret = Buffer.from('testing123');

t.test('encodeAccessRequest: layout and Message-Authenticator placement', async (t) => {
  const p = encodeAccessRequest({ identifier: 42, authenticator: A, secret, userName: 'bob', password: 'pw', state: Buffer.from('st'), nasIdentifier: 'nas', extra: [attribute(Attr.CallingStationId, 'cs')] });
  t.equal(p[0], Code.AccessRequest);
  t.equal(p[1], 42);
  t.equal(p.readUInt16BE(2), p.length);
  t.same(p.subarray(4, 20), A);
  t.same(readAttributes(p).map((a) => a.type), [80, 1, 2, 24, 32, 31]);
  const m = Buffer.from(p);
  m.fill(0, 22, 38);
  t.same(createHmac('md5', secret).update(m).digest(), p.subarray(22, 38), 'MA = HMAC-MD5 over the packet with MA zeroed');
  const last = encodeAccessRequest({ identifier: 1, authenticator: A, secret, userName: 'bob', messageAuthenticator: 'last' });
  t.same(readAttributes(last).map((a) => a.type), [1, 80]);
  const none = encodeAccessRequest({ identifier: 1, authenticator: A, secret, userName: 'bob', password: Buffer.from('pw'), messageAuthenticator: 'none' });
  t.same(readAttributes(none).map((a) => a.type), [1, 2]);
  for (const pkt of [p, last]) {
    const r = precheck(pkt);
    t.ok(r.ok && checkMessageAuthenticator(pkt, r.view, secret, true) === 'ok');
  }
  const ss = encodeAccessRequest({ code: Code.StatusServer, identifier: 3, authenticator: A, secret });
  t.equal(ss[0], 12);
  t.equal(ss.length, 38);
  const r = precheck(ss);
  t.ok(r.ok && checkMessageAuthenticator(ss, r.view, secret, true) === 'ok');
  t.equal(parseAccessRequest(p, secret).password?.toString(), 'pw');
});

t.test('encodeAccessRequest refuses bad input', async (t) => {
  t.throws(() => encodeAccessRequest({ code: 2, identifier: 1, authenticator: A, secret }), RangeError);
  t.throws(() => encodeAccessRequest({ identifier: 1, authenticator: A.subarray(1), secret }), RangeError);
  t.throws(() => encodeAccessRequest({ identifier: 256, authenticator: A, secret }), RangeError);
  const big = attribute(Attr.Class, Buffer.alloc(253));
  t.throws(() => encodeAccessRequest({ identifier: 1, authenticator: A, secret, extra: Array(16).fill(big) }), RangeError);
});

t.test('readAttributes refuses malformed packets', async (t) => {
  const ok = encodeAccessRequest({ identifier: 1, authenticator: A, secret, messageAuthenticator: 'none', userName: 'u' });
  t.same(readAttributes(ok), [{ type: 1, value: Buffer.from('u') }]);
  t.same(readAttributes(Buffer.concat([ok, Buffer.from([9, 9])])), [{ type: 1, value: Buffer.from('u') }], 'padding ignored');
  const cases: Buffer[] = [Buffer.alloc(19)];
  const lowLen = Buffer.from(ok);
  lowLen.writeUInt16BE(19, 2);
  cases.push(lowLen);
  const highLen = Buffer.from(ok);
  highLen.writeUInt16BE(ok.length + 1, 2);
  cases.push(highLen);
  for (const tail of [[1], [1, 1], [1, 0], [1, 3]]) {
    const b = Buffer.concat([ok, Buffer.from(tail)]);
    b.writeUInt16BE(b.length, 2);
    cases.push(b);
  }
  for (const [i, c] of cases.entries()) {
    t.throws(() => readAttributes(c), RangeError, `case ${i}`);
    t.same(verifyReply(c, A, secret), { ok: false, maFirst: false });
  }
});

t.test('verifyReply checks both authenticators and where MA sits', async (t) => {
  const reply = encodeReply({ code: 2, identifier: 1, requestAuthenticator: A, secret, attributes: [attribute(Attr.ReplyMessage, 'hi')], proxyStates: [] });
  t.same(verifyReply(reply, A, secret), { ok: true, maFirst: true });
  t.same(verifyReply(reply, A, Buffer.from('other')), { ok: false, maFirst: true }, 'wrong secret');
  t.same(verifyReply(reply, Buffer.alloc(16), secret), { ok: false, maFirst: true }, 'wrong request authenticator');
  t.same(verifyReply(reply, A.subarray(0, 8), secret), { ok: false, maFirst: false }, 'short request authenticator');
  t.same(verifyReply(Buffer.concat([reply, Buffer.from([0, 0])]), A, secret), { ok: true, maFirst: true }, 'padding ignored');
  for (let i = 0; i < reply.length; i++) {
    if (i === 2 || i === 3) continue;
    const m = Buffer.from(reply);
    m[i]! ^= 0x10;
    if (verifyReply(m, A, secret).ok) t.fail(`byte ${i} changed, still ok`);
  }
  // A bad MA under a good Response Authenticator is refused.
  const badMa = Buffer.from(reply);
  badMa[30]! ^= 1;
  badMa.set(A, 4);
  const { createHash } = await import('node:crypto');
  createHash('md5').update(badMa).update(secret).digest().copy(badMa, 4);
  t.same(verifyReply(badMa, A, secret), { ok: false, maFirst: true });

  // MA last: valid but not first. Built by hand with the RFC recipe.
  const body = Buffer.concat([attribute(Attr.ReplyMessage, 'hi'), Buffer.from([80, 18]), Buffer.alloc(16)]);
  const last = Buffer.concat([Buffer.from([2, 1, 0, 0]), A, body]);
  last.writeUInt16BE(last.length, 2);
  createHmac('md5', secret).update(last).digest().copy(last, last.length - 16);
  createHash('md5').update(last).update(secret).digest().copy(last, 4);
  t.same(verifyReply(last, A, secret), { ok: true, maFirst: false });

  // No MA, two MAs, MA of the wrong length: never ok.
  const noMa = Buffer.concat([Buffer.from([2, 1, 0, 24]), A, attribute(Attr.ReplyMessage, 'hi')]);
  createHash('md5').update(noMa).update(secret).digest().copy(noMa, 4);
  t.same(verifyReply(noMa, A, secret), { ok: false, maFirst: false });
  const twoMa = Buffer.concat([reply, Buffer.from([80, 18]), Buffer.alloc(16)]);
  twoMa.writeUInt16BE(twoMa.length, 2);
  t.same(verifyReply(twoMa, A, secret), { ok: false, maFirst: true });
  const shortMa = Buffer.concat([Buffer.from([2, 1, 0, 25]), A, Buffer.from([80, 5, 0, 0, 0])]);
  t.same(verifyReply(shortMa, A, secret), { ok: false, maFirst: true });
});

t.test('verifyReply: a 4096-byte reply under a long secret, then a short one again', async (t) => {
  const long = Buffer.alloc(200, 'k');
  const fill = [...Array.from({ length: 15 }, () => attribute(Attr.ReplyMessage, 'x'.repeat(253))), attribute(Attr.ReplyMessage, 'y'.repeat(231))];
  const big = encodeReply({ code: 2, identifier: 9, requestAuthenticator: A, secret: long, attributes: fill, proxyStates: [] });
  t.equal(big.length, 4096);
  t.same(verifyReply(big, A, long), { ok: true, maFirst: true });
  t.same(verifyReply(big, A, secret), { ok: false, maFirst: true });
  const small = encodeReply({ code: 3, identifier: 2, requestAuthenticator: A, secret, attributes: [], proxyStates: [] });
  t.same(verifyReply(small, A, secret), { ok: true, maFirst: true }, 'the grown scratch holds no stale bytes that count');
});
