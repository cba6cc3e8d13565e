import t from 'tap';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { precheck, checkMessageAuthenticator, type PacketView } from '../../src/radius/precheck.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { attribute } from '../../src/radius/reply.js';
import { Attr, Code } from '../../src/radius/codes.js';
import { DROP_REASONS } from '../../src/audit/event.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/radius/${name}`, import.meta.url), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');
const A = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const secret = Buffer.from('testing123');

function viewOf(buf: Buffer): PacketView {
  const r = precheck(buf);
  if (!r.ok) throw new Error(`precheck failed: ${r.reason}`);
  return r.view;
}
function maCheck(buf: Buffer, s: Buffer = secret, required = false) {
  const v = viewOf(buf);
  return checkMessageAuthenticator(buf.subarray(0, v.length), v, s, required);
}
const req = (o: Partial<Parameters<typeof encodeAccessRequest>[0]> = {}) =>
  encodeAccessRequest({ identifier: 7, authenticator: A, secret, userName: 'bob', password: 'pw', nasIdentifier: 'nas1', ...o });

t.test('RELIABILITY §2 malformed packets are refused with the expected reason', async (t) => {
  const f = fixture('malformed.json');
  const s = Buffer.from(f.secret);
  for (const row of f.rows) {
    const buf = hex(row.hex);
    const r = precheck(buf);
    if (row.stage === 'precheck') {
      t.same(r, { ok: false, reason: row.reason }, row.name);
    } else {
      t.ok(r.ok, `${row.name}: passes precheck`);
      if (r.ok) {
        t.equal(checkMessageAuthenticator(buf, r.view, s, false), row.reason, `${row.name}: not required`);
        t.equal(checkMessageAuthenticator(buf, r.view, s, true), row.reason, `${row.name}: required`);
      }
    }
    t.ok((DROP_REASONS as readonly string[]).includes(row.reason), `${row.reason} is a DROP_REASON`);
  }
});

t.test('every PrecheckFailure and MaCheck failure is a DROP_REASON', async (t) => {
  const names = ['short-packet', 'too-long', 'length-mismatch', 'bad-attribute', 'too-many-attributes', 'bad-code', 'ma-bad-length',
    'ma-missing', 'ma-invalid', 'eap-without-ma', 'proxy-state-without-ma'];
  for (const n of names) t.ok((DROP_REASONS as readonly string[]).includes(n), n);
});

t.test('header rules (RFC 2865 §3, RELIABILITY R2, R3)', async (t) => {
  const header = (code: number, len: number, total = Math.max(len, 20)) => {
    const b = Buffer.alloc(total);
    b[0] = code;
    b.writeUInt16BE(len, 2);
    return b;
  };
  t.same(precheck(Buffer.alloc(0)), { ok: false, reason: 'short-packet' });
  t.same(precheck(header(1, 19, 30)), { ok: false, reason: 'short-packet' }, 'Length field below 20');
  t.same(precheck(header(1, 4097, 20)), { ok: false, reason: 'too-long' }, 'too-long is checked before length-mismatch');
  t.same(precheck(header(1, 4097, 5000)), { ok: false, reason: 'too-long' });
  t.same(precheck(header(1, 21, 20)), { ok: false, reason: 'length-mismatch' });
  for (const code of [0, 2, 3, 4, 5, 11, 13, 52, 255]) t.same(precheck(header(code, 20)), { ok: false, reason: 'bad-code' }, `code ${code}`);
  const ss = precheck(header(Code.StatusServer, 20));
  t.ok(ss.ok, 'Status-Server passes precheck');
  const ok = precheck(header(1, 20));
  t.same(ok, { ok: true, view: { code: 1, identifier: 0, length: 20, maOffset: -1, hasEap: false, hasProxyState: false, attributeCount: 0 } });
});

t.test('bytes after Length are padding and ignored', async (t) => {
  const p = req();
  const padded = Buffer.concat([p, Buffer.from('ffff00ff', 'hex')]);
  const r = precheck(padded);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.view.length, p.length);
  t.equal(checkMessageAuthenticator(padded, r.view, secret, true), 'ok', 'MA computed over Length bytes only');
  t.equal(checkMessageAuthenticator(padded.subarray(0, r.view.length), r.view, secret, true), 'ok');
});

t.test('a packet of exactly 4096 bytes passes; the attribute cap applies', async (t) => {
  const filler = Array.from({ length: 15 }, () => attribute(Attr.Class, Buffer.alloc(253, 1)));
  const base = req({ extra: filler });
  const pad = 4096 - base.length;
  const big = req({ extra: [...filler, attribute(Attr.Class, Buffer.alloc(pad - 2, 2))] });
  t.equal(big.length, 4096);
  const v = viewOf(big);
  t.equal(v.attributeCount, 1 + 3 + 16);
  t.equal(checkMessageAuthenticator(big, v, secret, true), 'ok');

  const many = req({ extra: Array.from({ length: 124 }, () => attribute(Attr.Class, 'x')) }); // 128 attributes
  t.ok(precheck(many).ok, '128 attributes pass the default cap');
  const tooMany = req({ extra: Array.from({ length: 125 }, () => attribute(Attr.Class, 'x')) });
  t.same(precheck(tooMany), { ok: false, reason: 'too-many-attributes' });
  t.same(precheck(req(), 3), { ok: false, reason: 'too-many-attributes' }, 'custom cap');
  t.ok(precheck(req(), 4).ok);
});

t.test('attribute of length 2 (empty value) is structurally valid', async (t) => {
  const v = viewOf(req({ extra: [Buffer.from([Attr.Class, 2])] }));
  t.equal(v.attributeCount, 5);
});

t.test('Message-Authenticator structure (B4, RFC 3579 §3.2)', async (t) => {
  const twoMa = req({ extra: [Buffer.from([Attr.MessageAuthenticator, 18, ...Buffer.alloc(16)])] });
  t.same(precheck(twoMa), { ok: false, reason: 'bad-attribute' }, 'a second MA');
  for (const len of [2, 5, 17, 19, 34]) {
    const p = req({ messageAuthenticator: 'none', extra: [Buffer.concat([Buffer.from([Attr.MessageAuthenticator, len]), Buffer.alloc(len - 2)])] });
    t.same(precheck(p), { ok: false, reason: 'ma-bad-length' }, `MA length ${len}`);
  }
  const v = viewOf(req());
  t.equal(v.maOffset, 22, 'MA first: value at byte 22');
  t.equal(viewOf(req({ messageAuthenticator: 'none' })).maOffset, -1);
});

t.test('V3 and V4 requests pass precheck; V4 passes the MA check (B1)', async (t) => {
  const v3 = fixture('rfc2865.json');
  for (const vec of v3.vectors) {
    const v = viewOf(hex(vec.request));
    t.equal(v.attributeCount, vec.expect.attributeCount, vec.name);
    t.equal(v.maOffset, -1);
    t.equal(checkMessageAuthenticator(hex(vec.request), v, Buffer.from(v3.secret), false), 'ok', `${vec.name}: no MA, not required`);
    t.equal(checkMessageAuthenticator(hex(vec.request), v, Buffer.from(v3.secret), true), 'ma-missing', `${vec.name}: no MA, required`);
  }
  const v4 = fixture('v4.json');
  const p = hex(v4.request);
  const v = viewOf(p);
  t.equal(v.maOffset, 22);
  t.equal(checkMessageAuthenticator(p, v, Buffer.from(v4.secret), true), 'ok');
  t.equal(checkMessageAuthenticator(p, v, Buffer.from('xyzzy5462'), true), 'ma-invalid', 'wrong secret (B3)');
});

t.test('MA anywhere in the request is accepted (B2)', async (t) => {
  t.equal(maCheck(req({ messageAuthenticator: 'first' }), secret, true), 'ok', 'first');
  t.equal(maCheck(req({ messageAuthenticator: 'last' }), secret, true), 'ok', 'last');
  // Middle: build with MA last, then move it between User-Name and User-Password and re-sign.
  const p = req({ messageAuthenticator: 'none' });
  const userName = p.subarray(20, 20 + p[21]!);
  const rest = p.subarray(20 + p[21]!);
  const mid = Buffer.concat([p.subarray(0, 20), userName, Buffer.from([80, 18]), Buffer.alloc(16), rest]);
  mid.writeUInt16BE(mid.length, 2);
  const maAt = 20 + userName.length + 2;
  createHmac('md5', secret).update(mid).digest().copy(mid, maAt);
  t.equal(viewOf(mid).maOffset, maAt);
  t.equal(maCheck(mid, secret, true), 'ok', 'middle');
});

t.test('wrong secret and any changed byte give ma-invalid (B3)', async (t) => {
  for (const where of ['first', 'last'] as const) {
    const p = req({ messageAuthenticator: where, extra: [attribute(Attr.ProxyState, 'ps'), attribute(Attr.EapMessage, Buffer.from([2, 0, 0, 4]))] });
    t.equal(maCheck(p, Buffer.from('testing124'), true), 'ma-invalid', `${where}: wrong secret`);
    let all = true;
    for (let i = 0; i < p.length; i++) {
      if (i === 2 || i === 3) continue; // the Length field: changing it is a structural failure instead
      for (const bit of [0x01, 0x80]) {
        const m = Buffer.from(p);
        m[i]! ^= bit;
        const r = precheck(m);
        const outcome = r.ok ? checkMessageAuthenticator(m, r.view, secret, true) : r.reason;
        if (outcome === 'ok') {
          all = false;
          t.fail(`${where}: flipping bit ${bit} of byte ${i} still passed`);
        }
      }
    }
    t.ok(all, `${where}: every single-bit change is refused`);
  }
});

t.test('MA absent: EAP, Status-Server, required, Proxy-State (B1, B5, B6, RFC 5997)', async (t) => {
  const eap = attribute(Attr.EapMessage, Buffer.from([2, 0, 0, 4]));
  const ps = attribute(Attr.ProxyState, 'x');
  const none = { messageAuthenticator: 'none' as const };
  t.equal(maCheck(req({ ...none, extra: [eap] }), secret, false), 'eap-without-ma');
  t.equal(maCheck(req({ ...none, extra: [eap, ps] }), secret, false), 'eap-without-ma');
  t.equal(maCheck(req({ ...none, code: Code.StatusServer }), secret, false), 'ma-missing');
  t.equal(maCheck(req({ ...none }), secret, true), 'ma-missing');
  t.equal(maCheck(req({ ...none, extra: [ps] }), secret, true), 'ma-missing', 'required wins over limit_proxy_state');
  t.equal(maCheck(req({ ...none, extra: [ps] }), secret, false), 'proxy-state-without-ma');
  t.equal(maCheck(req({ ...none }), secret, false), 'ok', 'no MA, no Proxy-State, not required: processed');
  t.equal(maCheck(req({ extra: [eap, ps] }), secret, true), 'ok', 'EAP and Proxy-State with valid MA');
  t.equal(maCheck(req({ code: Code.StatusServer }), secret, true), 'ok', 'Status-Server with MA');
  const v = viewOf(req({ extra: [eap, ps] }));
  t.ok(v.hasEap && v.hasProxyState);
});

t.test('a packet shorter than view.length is a programming error', async (t) => {
  const p = req();
  const v = viewOf(p);
  t.throws(() => checkMessageAuthenticator(p.subarray(0, p.length - 1), v, secret, true), RangeError);
});

t.test('the MA check never writes to the packet', async (t) => {
  const p = req({ messageAuthenticator: 'last' });
  const copy = Buffer.from(p);
  const v = viewOf(p);
  t.equal(checkMessageAuthenticator(p, v, secret, true), 'ok');
  t.same(p, copy, 'after ok');
  t.equal(checkMessageAuthenticator(p, v, Buffer.from('nope'), true), 'ma-invalid');
  t.same(p, copy, 'after ma-invalid');
});
