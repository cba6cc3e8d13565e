import t from 'tap';
import { readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { attribute, encodeReply, replyMessage, responseAuthenticator } from '../../src/radius/reply.js';
import { readAttributes, verifyReply } from '../../src/radius/request-encode.js';
import { Attr, Code } from '../../src/radius/codes.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/radius/${name}`, import.meta.url), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');
const RA = Buffer.from('0f403f9473978057bd83d5cb98f4227a', 'hex');
const secret = Buffer.from('s3cret');

t.test('Response Authenticator reproduces the RFC 2865 §7 accepts (V3, R9)', async (t) => {
  const f = fixture('rfc2865.json');
  for (const vec of f.vectors) {
    const accept = hex(vec.accept);
    const request = hex(vec.request);
    t.same(responseAuthenticator(accept, request.subarray(4, 20), Buffer.from(f.secret)), accept.subarray(4, 20), vec.name);
    t.notSame(responseAuthenticator(accept, request.subarray(4, 20), Buffer.from('xyzzy5462')), accept.subarray(4, 20));
  }
});

t.test('encodeReply reproduces the V4 accept byte for byte (B7)', async (t) => {
  const f = fixture('v4.json');
  const request = hex(f.request);
  const reply = encodeReply({
    code: Code.AccessAccept,
    identifier: request[1]!,
    requestAuthenticator: request.subarray(4, 20),
    secret: Buffer.from(f.secret),
    attributes: f.acceptAttributes.map(hex),
    proxyStates: [],
  });
  t.equal(reply.toString('hex'), f.accept);
  t.same(verifyReply(reply, request.subarray(4, 20), Buffer.from(f.secret)), { ok: true, maFirst: true });
});

t.test('layout: header, MA first, attributes, Proxy-States; both authenticators independently recomputed', async (t) => {
  const attrs = [...replyMessage('Enter your code'), attribute(Attr.State, Buffer.from([1, 2, 3]))];
  const ps = [Buffer.from('p1'), Buffer.from('second')];
  const reply = encodeReply({ code: Code.AccessChallenge, identifier: 200, requestAuthenticator: RA, secret, attributes: attrs, proxyStates: ps });
  t.equal(reply[0], 11);
  t.equal(reply[1], 200);
  t.equal(reply.readUInt16BE(2), reply.length);
  t.equal(reply[20], 0x50);
  t.equal(reply[21], 18);
  const got = readAttributes(reply);
  t.same(got.map((a) => a.type), [80, 18, 24, 33, 33]);
  t.same(got.slice(3).map((a) => a.value.toString()), ['p1', 'second']);
  // MA: HMAC-MD5 over the reply with MA zeroed and the request authenticator in place (RFC 3579 §3.2).
  const m = Buffer.from(reply);
  RA.copy(m, 4);
  m.fill(0, 22, 38);
  t.same(createHmac('md5', secret).update(m).digest(), reply.subarray(22, 38));
  // Response Authenticator over the final MA (RFC 2865 §3).
  const r = Buffer.from(reply);
  RA.copy(r, 4);
  t.same(createHash('md5').update(r).update(secret).digest(), reply.subarray(4, 20));
  t.same(verifyReply(reply, RA, secret), { ok: true, maFirst: true });

  const bare = encodeReply({ code: Code.AccessReject, identifier: 0, requestAuthenticator: RA, secret, attributes: [], proxyStates: [] });
  t.equal(bare.length, 38, 'a reject carries MA even with nothing else');
  t.same(verifyReply(bare, RA, secret), { ok: true, maFirst: true });
  const emptyPs = encodeReply({ code: Code.AccessReject, identifier: 0, requestAuthenticator: RA, secret, attributes: [], proxyStates: [Buffer.alloc(0)] });
  t.same(emptyPs.subarray(38), Buffer.from([33, 2]), 'an empty Proxy-State is echoed as received');
  // The secret used for the one-shot MD5 does not linger next to the reply.
  const tail = Buffer.from(reply.buffer, reply.byteOffset + reply.length, secret.length);
  t.same(tail, Buffer.alloc(secret.length), 'no copy of the secret after the reply');
});

t.test('encodeReply refuses what cannot be sent', async (t) => {
  const base = { code: 2, identifier: 1, requestAuthenticator: RA, secret, attributes: [] as Buffer[], proxyStates: [] as Buffer[] };
  const big = attribute(Attr.Class, Buffer.alloc(253));
  // 20 + 18 + 16 * 255 = 4118 > 4096; 15 * 255 + 38 = 3863 fits.
  t.throws(() => encodeReply({ ...base, attributes: Array(16).fill(big) }), RangeError);
  t.equal(encodeReply({ ...base, attributes: Array(15).fill(big) }).length, 3863);
  const fill = 4096 - 3863 - 2;
  t.equal(encodeReply({ ...base, attributes: Array(15).fill(big), proxyStates: [Buffer.alloc(fill)] }).length, 4096, 'exactly 4096');
  t.throws(() => encodeReply({ ...base, attributes: Array(15).fill(big), proxyStates: [Buffer.alloc(fill + 1)] }), RangeError);
  t.throws(() => encodeReply({ ...base, proxyStates: [Buffer.alloc(254)] }), RangeError);
  t.throws(() => encodeReply({ ...base, requestAuthenticator: RA.subarray(0, 15) }), RangeError);
  t.throws(() => encodeReply({ ...base, attributes: [Buffer.from([18, 5, 65])] }), RangeError, 'length byte disagrees');
  t.throws(() => encodeReply({ ...base, attributes: [Buffer.from([18])] }), RangeError);
  t.throws(() => encodeReply({ ...base, code: 256 }), RangeError);
  t.throws(() => encodeReply({ ...base, identifier: -1 }), RangeError);
});

t.test('attribute()', async (t) => {
  t.same(attribute(1, 'bob'), Buffer.from([1, 5, 0x62, 0x6f, 0x62]));
  t.same(attribute(26, Buffer.from([0, 0, 1, 55])), Buffer.from([26, 6, 0, 0, 1, 55]));
  t.equal(attribute(25, Buffer.alloc(253)).length, 255);
  t.throws(() => attribute(25, Buffer.alloc(254)), RangeError);
  t.throws(() => attribute(25, ''), RangeError);
  t.throws(() => attribute(25, Buffer.alloc(0)), RangeError);
  for (const bad of [0, 256, 1.5, -1]) t.throws(() => attribute(bad, 'x'), RangeError, `type ${bad}`);
});

t.test('replyMessage() splits at 253 bytes without splitting a character', async (t) => {
  t.same(replyMessage(''), []);
  t.same(replyMessage('hi'), [Buffer.from([18, 4, 0x68, 0x69])]);
  t.equal(replyMessage('a'.repeat(253)).length, 1);
  t.same(replyMessage('a'.repeat(254)).map((b) => b.length - 2), [253, 1]);
  for (const text of ['€'.repeat(200), 'a' + '€'.repeat(200), 'ab' + '😀'.repeat(150), 'x'.repeat(252) + 'é' + 'y', 'ü'.repeat(1000)]) {
    const chunks = replyMessage(text);
    for (const c of chunks) {
      t.equal(c[0], 18);
      t.equal(c[1], c.length);
      t.ok(c.length <= 255);
      const s = c.subarray(2).toString('utf8');
      t.notOk(s.includes('\ufffd'), 'each chunk is valid UTF-8 on its own');
    }
    t.equal(chunks.map((c) => c.subarray(2).toString('utf8')).join(''), text);
  }
});
