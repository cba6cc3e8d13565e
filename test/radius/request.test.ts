import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseAccessRequest, encryptUserPassword } from '../../src/radius/request.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { attribute } from '../../src/radius/reply.js';
import { Attr, Code, MsChapAttr, VendorMicrosoft } from '../../src/radius/codes.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/radius/${name}`, import.meta.url), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');
const A = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const secret = Buffer.from('s3cret');

const build = (extra: Buffer[], o: Partial<Parameters<typeof encodeAccessRequest>[0]> = {}) =>
  encodeAccessRequest({ identifier: 9, authenticator: A, secret, messageAuthenticator: 'none', extra, ...o });
const vsa = (vendor: number, vtype: number, value: Buffer) => {
  const v = Buffer.alloc(4 + 2 + value.length);
  v.writeUInt32BE(vendor, 0);
  v[4] = vtype;
  v[5] = value.length + 2;
  value.copy(v, 6);
  return attribute(Attr.VendorSpecific, v);
};
const nasIp = attribute(Attr.NasIpAddress, Buffer.from([10, 0, 0, 1]));

t.test('RFC 2865 §7.1 and §7.2 requests (V3)', async (t) => {
  const f = fixture('rfc2865.json');
  const s = Buffer.from(f.secret);
  for (const vec of f.vectors) {
    const p = hex(vec.request);
    const r = parseAccessRequest(p, s);
    const e = vec.expect;
    t.equal(r.code, e.code, `${vec.name}: code`);
    t.equal(r.identifier, e.identifier, `${vec.name}: identifier`);
    t.same(r.authenticator, p.subarray(4, 20), `${vec.name}: authenticator`);
    t.equal(r.userName, e.userName, `${vec.name}: User-Name`);
    t.equal(r.nasIpAddress, e.nasIpAddress, `${vec.name}: NAS-IP-Address`);
    t.equal(r.hasChapPassword, e.hasChapPassword, `${vec.name}: CHAP`);
    t.equal(r.password?.toString('utf8'), e.password, `${vec.name}: password`);
    t.equal(r.problem, undefined, `${vec.name}: no problem`);
    t.same(r.proxyStates, []);
    t.equal(r.hasEap, false);
    t.equal(r.hasMsChap, false);
  }
});

t.test('V4 request decrypts to arctangent; encryptUserPassword is the inverse (RFC 2865 §5.2)', async (t) => {
  const f = fixture('v4.json');
  const p = hex(f.request);
  const r = parseAccessRequest(p, Buffer.from(f.secret));
  t.equal(r.password?.toString(), f.password);
  // Re-encrypting reproduces the ciphertext of the RFC packet byte for byte.
  const v3 = fixture('rfc2865.json').vectors[0];
  const req = hex(v3.request);
  const enc = encryptUserPassword(Buffer.from('arctangent'), Buffer.from('xyzzy5461'), req.subarray(4, 20));
  t.same(enc, req.subarray(28, 28 + 16));
});

t.test('encryptUserPassword pads and refuses bad input', async (t) => {
  t.equal(encryptUserPassword(Buffer.alloc(0), secret, A).length, 16);
  t.equal(encryptUserPassword(Buffer.alloc(16, 1), secret, A).length, 16);
  t.equal(encryptUserPassword(Buffer.alloc(17, 1), secret, A).length, 32);
  t.equal(encryptUserPassword(Buffer.alloc(128, 1), secret, A).length, 128);
  t.throws(() => encryptUserPassword(Buffer.alloc(129, 1), secret, A), RangeError);
  t.throws(() => encryptUserPassword(Buffer.from('x'), secret, A.subarray(0, 15)), RangeError);
});

t.test('multi-block passwords, NUL stripping, strings and first-wins', async (t) => {
  const pw = Buffer.from('a'.repeat(40) + 'é€');
  const p = build([attribute(Attr.CallingStationId, '02-00-00-00-00-01'), attribute(Attr.UserName, 'second')], {
    userName: 'zoë', password: pw, nasIdentifier: 'nas-ü', state: Buffer.from('st'),
  });
  const r = parseAccessRequest(p, secret);
  t.same(r.password, pw);
  t.equal(r.userName, 'zoë', 'the first User-Name wins');
  t.equal(r.nasIdentifier, 'nas-ü');
  t.equal(r.callingStationId, '02-00-00-00-00-01');
  t.same(r.state, Buffer.from('st'));
  t.equal(r.problem, undefined);
  const empty = parseAccessRequest(build([], { password: '', nasIdentifier: 'n' }), secret);
  t.same(empty.password, Buffer.alloc(0), 'an empty password decrypts to zero bytes');
  t.equal(empty.userName, undefined);
});

t.test('Proxy-States are kept in order as views; padding after Length is ignored', async (t) => {
  const p = build([attribute(Attr.ProxyState, 'one'), attribute(Attr.ProxyState, 'two')], { password: 'x', nasIdentifier: 'n' });
  const padded = Buffer.concat([p, Buffer.from([Attr.ProxyState, 5, 0x41, 0x42, 0x43])]);
  const r = parseAccessRequest(padded, secret);
  t.same(r.proxyStates.map(String), ['one', 'two']);
  t.equal(r.proxyStates[0]!.buffer, padded.buffer, 'a view, not a copy');
});

t.test('problems (RFC 2865 §4.1, §5.2, §5.3, RELIABILITY R5)', async (t) => {
  const pwAttr = (n: number) => attribute(Attr.UserPassword, Buffer.alloc(n, 7));
  const named: typeof build = (extra, o = {}) => build(extra, { userName: 'u', ...o });
  for (const n of [1, 15, 17, 31, 127, 130, 144, 240]) {
    const r = parseAccessRequest(named([pwAttr(n), nasIp]), secret);
    t.equal(r.problem, 'bad-password-length', `User-Password of ${n} bytes`);
    t.equal(r.password, undefined);
  }
  for (const n of [16, 32, 128]) t.equal(parseAccessRequest(named([pwAttr(n), nasIp]), secret).problem, undefined, `${n} bytes`);
  t.equal(parseAccessRequest(named([attribute(Attr.UserPassword, Buffer.alloc(16)), pwAttr(3), nasIp]), secret).problem, undefined,
    'only the first User-Password counts');

  const chap = attribute(Attr.ChapPassword, Buffer.alloc(17, 1));
  const r = parseAccessRequest(named([chap, nasIp]), secret);
  t.equal(r.problem, undefined);
  t.ok(r.hasChapPassword);
  const badChap = parseAccessRequest(named([attribute(Attr.ChapPassword, Buffer.alloc(16, 1)), nasIp]), secret);
  t.equal(badChap.problem, 'bad-password-length', 'CHAP-Password must be 19 bytes');
  t.equal(parseAccessRequest(named([pwAttr(16), chap, nasIp]), secret).problem, 'password-and-chap');
  t.equal(parseAccessRequest(named([nasIp], { userName: 'bob' }), secret).problem, 'no-credentials');
  t.equal(parseAccessRequest(named([], { userName: 'bob', password: 'x' }), secret).problem, 'no-nas-id');

  // Each alternative credential alone is enough.
  t.equal(parseAccessRequest(named([nasIp], { state: Buffer.from('s') }), secret).problem, undefined, 'State');
  const eap = parseAccessRequest(named([attribute(Attr.EapMessage, Buffer.from([2, 1, 0, 4])), nasIp]), secret);
  t.equal(eap.problem, undefined, 'EAP-Message');
  t.ok(eap.hasEap);

  // NAS identification: only well-formed values count.
  const ipv6 = attribute(Attr.NasIpv6Address, Buffer.alloc(16, 0x20));
  t.equal(parseAccessRequest(named([pwAttr(16), ipv6]), secret).problem, undefined, 'NAS-IPv6-Address');
  t.equal(parseAccessRequest(named([pwAttr(16), attribute(Attr.NasIpv6Address, Buffer.alloc(4))]), secret).problem, 'no-nas-id');
  const shortIp = parseAccessRequest(named([pwAttr(16), attribute(Attr.NasIpAddress, Buffer.alloc(3))]), secret);
  t.equal(shortIp.problem, 'no-nas-id');
  t.equal(shortIp.nasIpAddress, undefined);
  t.equal(parseAccessRequest(named([pwAttr(16), Buffer.from([Attr.NasIdentifier, 2])]), secret).problem, 'no-nas-id', 'empty NAS-Identifier');
  const two = parseAccessRequest(named([pwAttr(16), nasIp, attribute(Attr.NasIpAddress, Buffer.from([1, 2, 3, 4]))]), secret);
  t.equal(two.nasIpAddress, '10.0.0.1');

  // RFC 2865 §5.1: nobody to authenticate, last in the order of the union.
  t.equal(parseAccessRequest(build([pwAttr(16), nasIp]), secret).problem, 'no-user-name');
  t.equal(parseAccessRequest(build([Buffer.from([Attr.UserName, 2]), pwAttr(16), nasIp]), secret).problem, 'no-user-name', 'an empty one');
  t.equal(parseAccessRequest(build([pwAttr(16)]), secret).problem, 'no-nas-id', 'the NAS first');
});

t.test('MS-CHAP is a Microsoft Vendor-Specific (RFC 2548)', async (t) => {
  for (const vt of Object.values(MsChapAttr)) {
    const r = parseAccessRequest(build([vsa(VendorMicrosoft, vt, Buffer.alloc(8, 1)), nasIp], { userName: 'u' }), secret);
    t.ok(r.hasMsChap, `vendor type ${vt}`);
    t.equal(r.problem, undefined);
  }
  // Several sub-attributes in one VSA; the MS-CHAP one second.
  const multi = Buffer.alloc(4 + 4 + 4);
  multi.writeUInt32BE(VendorMicrosoft, 0);
  multi.set([7, 4, 0, 0, MsChapAttr.MsChap2Response, 4, 1, 1], 4);
  t.ok(parseAccessRequest(build([attribute(Attr.VendorSpecific, multi), nasIp]), secret).hasMsChap, 'second sub-attribute');
  const notMs = [
    vsa(9, MsChapAttr.MsChapResponse, Buffer.alloc(4)), // Cisco
    vsa(VendorMicrosoft, 7, Buffer.alloc(4)), // MS-MPPE-Encryption-Policy
    attribute(Attr.VendorSpecific, Buffer.from([0, 0, 1, 55, 1])), // too short for a sub-attribute
    attribute(Attr.VendorSpecific, Buffer.from([0, 0, 1, 55, 1, 1])), // sub-attribute length 1
    attribute(Attr.VendorSpecific, Buffer.from([0, 0, 1, 55, 1, 9, 0])), // sub-attribute overruns
    attribute(Attr.VendorSpecific, Buffer.from([0, 0, 1, 55, 7, 2, 0])), // trailing byte after a sub-attribute
  ];
  for (const [i, a] of notMs.entries()) {
    const r = parseAccessRequest(build([a, nasIp], { userName: 'u' }), secret);
    t.notOk(r.hasMsChap, `not MS-CHAP #${i}`);
    t.equal(r.problem, 'no-credentials');
  }
  const both = parseAccessRequest(build([vsa(VendorMicrosoft, 1, Buffer.alloc(2)), vsa(VendorMicrosoft, 11, Buffer.alloc(2)), nasIp]), secret);
  t.ok(both.hasMsChap);
});

t.test('malformed input never reads past the packet', async (t) => {
  t.throws(() => parseAccessRequest(Buffer.alloc(19), secret), RangeError);
  const base = build([], { password: 'x', nasIdentifier: 'n' });
  for (const tail of [[1], [1, 0], [1, 1], [1, 9, 0]]) {
    const p = Buffer.concat([base, Buffer.from(tail)]);
    p.writeUInt16BE(p.length, 2);
    const r = parseAccessRequest(p, secret);
    t.equal(r.password?.toString(), 'x', `tail ${tail.join(',')}`);
  }
  const lying = Buffer.from(base);
  lying.writeUInt16BE(4000, 2);
  t.equal(parseAccessRequest(lying, secret).nasIdentifier, 'n', 'Length above the buffer: bounded by the buffer');
  t.equal(Code.AccessRequest, parseAccessRequest(base, secret).code);
});
