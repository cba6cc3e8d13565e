/**
 * Named attribute encoding: bytes for the attributes a VPN gateway uses (RFC 2865 §5, RFC 2868
 * tags, RFC 2865 §5.26 Vendor-Specific), refusals, and dictionary loading.
 */
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-ignore -- radius 1.1.4 ships no type declarations
import radius from 'radius';
import { AttributeError, encodeAttribute, loadDictionaries, PROJECT_DICTIONARIES } from '../../src/radius/attributes.js';

const hex = (name: string, value: string | number): string => encodeAttribute(name, value).toString('hex');
const str = (s: string): string => Buffer.from(s).toString('hex');

t.test('standard attributes (RFC 2865 §5)', async (t) => {
  t.equal(hex('Class', 'vpn-admins'), `190c${str('vpn-admins')}`);
  t.equal(hex('Class', '0x01ff'), '190401ff', 'octets: 0x… is hex');
  t.equal(hex('Filter-Id', 'admins'), `0b08${str('admins')}`);
  t.equal(hex('filter-id', 'admins'), `0b08${str('admins')}`, 'names are case-insensitive');
  t.equal(hex('Reply-Message', 'Welcome, ünïcode'), `12${(2 + Buffer.byteLength('Welcome, ünïcode')).toString(16)}${str('Welcome, ünïcode')}`);
  t.equal(hex('Framed-IP-Address', '10.0.0.5'), '08060a000005');
  t.equal(hex('Session-Timeout', 3600), '1b0600000e10');
  t.equal(hex('Session-Timeout', '3600'), '1b0600000e10');
  t.equal(hex('Service-Type', 'Framed-User'), '060600000002', 'VALUE name');
  t.equal(hex('Service-Type', 'framed-user'), '060600000002', 'VALUE names are case-insensitive');
  t.equal(hex('Idle-Timeout', 4294967295), '1c06ffffffff');
  t.equal(hex('Filter-Id', 5), `0b03${str('5')}`, 'a number for a string attribute is its decimal text');
  t.equal(hex('PKM-SAID', 513), '8d040201', 'short');
});

t.test('tunnel attributes for a VLAN (RFC 2868, RFC 3580 §3.31)', async (t) => {
  t.equal(hex('Tunnel-Type', 'VLAN'), '40060000000d', 'no tag: tag octet 0');
  t.equal(hex('Tunnel-Medium-Type', 'IEEE-802'), '410600000006');
  t.equal(hex('Tunnel-Private-Group-Id', '100'), `5105${str('100')}`, 'string, no tag: no tag octet');
  t.equal(hex('Tunnel-Private-Group-Id', 100), `5105${str('100')}`);
  t.equal(hex('Tunnel-Type:1', 'VLAN'), '40060100000d', 'tag 1');
  t.equal(hex('Tunnel-Medium-Type:1', 6), '410601000006');
  t.equal(hex('Tunnel-Private-Group-Id:1', '100'), `510601${str('100')}`);
  t.equal(hex('Tunnel-Private-Group-Id:0', '100'), `510600${str('100')}`, 'explicit tag 0 is written');
  t.equal(hex('Tunnel-Private-Group-Id', '\u0001x'), '5105000178', 'a first byte ≤ 0x1F gets a zero tag so it is not read as one');
  t.equal(hex('Tunnel-Type:31', 'VLAN'), '40061f00000d');
});

t.test('vendor attributes are wrapped in Vendor-Specific (RFC 2865 §5.26)', async (t) => {
  t.equal(hex('Fortinet-Group-Name', 'vpn-admins'), `1a1200003044010c${str('vpn-admins')}`);
  t.equal(hex('Fortinet-Client-IP-Address', '192.0.2.1'), '1a0c0000304402 06c0000201'.replace(' ', ''));
  t.equal(hex('Cisco-AVPair', 'shell:priv-lvl=15'), `1a1900000009 0113${str('shell:priv-lvl=15')}`.replace(' ', ''));
  t.equal(hex('PaloAlto-User-Group', 'gp-users'), `1a1000006375050a${str('gp-users')}`);
  t.equal(hex('MS-Primary-DNS-Server', '10.0.0.53'), '1a0c000001371c060a000035');
  t.equal(hex('MS-MPPE-Encryption-Policy', 'Encryption-Required'), '1a0c000001370706 00000002'.replace(' ', ''));
});

t.test('IPv6 (RFC 3162, RFC 6911)', async (t) => {
  t.equal(hex('Framed-IPv6-Address', '2001:db8::1'), 'a81220010db8000000000000000000000001');
  t.equal(hex('Framed-IPv6-Address', '::'), `a812${'00'.repeat(16)}`);
  t.equal(hex('Framed-IPv6-Address', '::ffff:192.0.2.1'), 'a81200000000000000000000ffffc0000201');
  t.equal(hex('Framed-IPv6-Address', '2001:db8:0:1:2:3:4:5'), 'a81220010db8000000010002000300040005');
  t.equal(hex('Framed-IPv6-Address', 'fe80::'), 'a812fe800000000000000000000000000000');
  t.equal(hex('Framed-IPv6-Prefix', '2001:db8::/48'), '6114003020010db8000000000000000000000000');
  t.equal(hex('Framed-IPv6-Prefix', '::/0'), `61140000${'00'.repeat(16)}`);
  t.equal(hex('Framed-IPv6-Prefix', '2001:db8::1/128'), '6114008020010db8000000000000000000000001');
});

t.test('the radius package decodes what we encode', async (t) => {
  const attrs = Buffer.concat([
    encodeAttribute('Tunnel-Type:1', 'VLAN'),
    encodeAttribute('Tunnel-Private-Group-Id:1', '100'),
    encodeAttribute('Filter-Id', 'admins'),
    encodeAttribute('Fortinet-Group-Name', 'vpn-admins'),
  ]);
  const header = Buffer.from([2, 0, 0, 0]);
  header.writeUInt16BE(20 + attrs.length, 2);
  const packet = Buffer.concat([header, Buffer.alloc(16), attrs]);
  const decoded = (radius as { decode(a: object): { attributes: Record<string, unknown> } }).decode({ packet, secret: 's' });
  t.same(decoded.attributes['Tunnel-Type'], [1, 'VLAN']);
  t.same(decoded.attributes['Tunnel-Private-Group-Id'], [1, '100']);
  t.equal(decoded.attributes['Filter-Id'], 'admins');
  t.same(decoded.attributes['Vendor-Specific'], { 'Fortinet-Group-Name': 'vpn-admins' });
});

t.test('every attribute in the shipped dictionaries resolves', async (t) => {
  const sample: Record<string, string> = {
    string: 'x',
    octets: '0x01',
    integer: '1',
    ipaddr: '192.0.2.1',
    ipv6addr: '2001:db8::1',
    ipv6prefix: '2001:db8::/32',
  };
  for (const file of readdirSync(PROJECT_DICTIONARIES)) {
    const text = await readFile(join(PROJECT_DICTIONARIES, file), 'utf8');
    for (const m of text.matchAll(/^ATTRIBUTE\s+(\S+)\s+(\d+)\s+(\S+)\s*(\S*)/gm)) {
      const [, name, , type, flags] = m as unknown as [string, string, string, string, string];
      if (flags.includes('encrypt=')) {
        t.throws(() => encodeAttribute(name, '0x01'), { code: 'not-allowed' }, name);
        continue;
      }
      t.ok(encodeAttribute(name, sample[type] as string).length > 2, `${file}: ${name}`);
    }
  }
});

t.test('refusals are AttributeError with a code', async (t) => {
  const cases: [string, string | number, string, RegExp][] = [
    ['No-Such-Attribute', 'x', 'unknown-attribute', /no such attribute/],
    ['Filter-Id:1', 'x', 'bad-tag', /takes no tag/],
    ['Tunnel-Type:32', 'VLAN', 'bad-tag', /0\.\.31/],
    ['User-Password', 'x', 'not-allowed', /set by the server/],
    ['Message-Authenticator', '0x00', 'not-allowed', /set by the server/],
    ['Tunnel-Password', 'x', 'not-allowed', /encrypted/],
    ['MS-MPPE-Send-Key', '0x00', 'not-allowed', /encrypted/],
    ['Event-Timestamp', 1, 'not-allowed', /type date/],
    ['Framed-Interface-Id', '0x00', 'not-allowed', /type ifid/],
    ['Tunnel-Type', 'VLANX', 'bad-value', /not a number or a VALUE name of Tunnel-Type/],
    ['Tunnel-Type', 'constructor', 'bad-value', /VALUE name/],
    ['Tunnel-Type', 0x1000000, 'bad-value', /out of range 0\.\.16777215/],
    ['Session-Timeout', -1, 'bad-value', /out of range/],
    ['Session-Timeout', 4294967296, 'bad-value', /out of range/],
    ['Session-Timeout', 1.5, 'bad-value', /out of range/],
    ['Session-Timeout', '1e3', 'bad-value', /not a number/],
    ['PKM-SAID', 65536, 'bad-value', /out of range 0\.\.65535/],
    ['Framed-IP-Address', '10.0.0.256', 'bad-value', /not an IPv4/],
    ['Framed-IP-Address', '2001:db8::1', 'bad-value', /not an IPv4/],
    ['Framed-IPv6-Address', '10.0.0.1', 'bad-value', /not an IPv6/],
    ['Framed-IPv6-Address', 'fe80::1%eth0', 'bad-value', /not an IPv6/],
    ['Framed-IPv6-Prefix', '2001:db8::', 'bad-value', /not an IPv6 prefix/],
    ['Framed-IPv6-Prefix', '2001:db8::/129', 'bad-value', /not an IPv6 prefix/],
    ['Framed-IPv6-Prefix', '2001:db8::1/64', 'bad-value', /beyond \/64/],
    ['Framed-IPv6-Prefix', 'nope/64', 'bad-value', /not an IPv6 address/],
    ['Class', '0x123', 'bad-value', /even number of hex digits/],
    ['Class', '0xzz', 'bad-value', /hex/],
    ['Filter-Id', '', 'bad-value', /empty/],
    ['Filter-Id', 'x'.repeat(254), 'bad-value', /254 octets; at most 253/],
    ['Fortinet-Group-Name', 'x'.repeat(248), 'bad-value', /248 octets; at most 247/],
    ['Tunnel-Private-Group-Id:1', 'x'.repeat(253), 'bad-value', /254 octets/],
  ];
  for (const [name, value, code, message] of cases) {
    const err = t.throws(() => encodeAttribute(name, value), { name: 'AttributeError', code, message }, `${name} = ${value}`);
    t.ok(err instanceof AttributeError);
  }
  t.equal(encodeAttribute('Filter-Id', 'x'.repeat(253)).length, 255, '253 octets fit');
  t.equal(encodeAttribute('Fortinet-Group-Name', 'x'.repeat(247)).length, 255, '247 octets fit in a VSA');
  t.match(
    t.throws(() => encodeAttribute('No-Such', 'x')),
    { attribute: 'No-Such', reason: 'no such attribute in the loaded dictionaries', message: 'No-Such: no such attribute in the loaded dictionaries' },
  );
});

t.test('extra dictionaries', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'radius-otp-dict-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const w = async (name: string, text: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const main = await w(
    'dictionary.example',
    `# an example vendor
VENDOR		Example		32473	format=1,1
BEGIN-VENDOR	Example
ATTRIBUTE	Example-Role	1	string
ATTRIBUTE	Example-Level	2	integer
ATTRIBUTE	Example-Flag	3	byte
VALUE	Example-Level	High	3
END-VENDOR	Example
$INCLUDE dictionary.included
`,
  );
  await w('dictionary.included', `BEGIN-VENDOR Cisco\nATTRIBUTE Cisco-Test-Extra 250 string\nEND-VENDOR Cisco\nATTRIBUTE Example-Std 245 string\n$INCLUDE dictionary.example\n`);
  const odd = await w('dictionary.odd', `VENDOR Odd 4242 format=2,1\nBEGIN-VENDOR Odd\nATTRIBUTE Odd-Thing 1 string\nEND-VENDOR Odd\n`);
  const unknownVendor = await w('dictionary.bad-vendor', `BEGIN-VENDOR Nobody\nATTRIBUTE Nobody-X 1 string\nEND-VENDOR Nobody\n`);
  const clash = await w('dictionary.clash', `# vendor attribute written without BEGIN-VENDOR\nATTRIBUTE Acme-Group 1 string\n`);
  const same = await w('dictionary.same', `ATTRIBUTE User-Name 1 string\n`);

  t.throws(() => encodeAttribute('Example-Role', 'x'), { code: 'unknown-attribute' }, 'not loaded yet');
  loadDictionaries([main, same]);
  loadDictionaries([main]); // again: nothing changes
  t.equal(hex('Example-Role', 'ops'), `1a0b00007ed90105${str('ops')}`);
  t.equal(hex('Example-Level', 'high'), '1a0c00007ed9020600000003');
  t.equal(hex('Example-Flag', 7), '1a0900007ed9030307');
  t.equal(hex('Cisco-Test-Extra', 'y'), `1a0900000009fa03${str('y')}`);
  t.equal(hex('Example-Std', 'z'), `f503${str('z')}`);
  t.throws(() => encodeAttribute('Example-Flag', 256), { code: 'bad-value', message: /0\.\.255/ });
  t.equal(hex('User-Name', 'u'), `0103${str('u')}`);

  loadDictionaries([odd]);
  t.throws(() => encodeAttribute('Odd-Thing', 'x'), { code: 'not-allowed', message: /format=1,1/ });

  t.throws(() => loadDictionaries([unknownVendor]), { name: 'AttributeError', code: 'dictionary', message: /unknown vendor/ });
  t.throws(() => loadDictionaries([clash]), { code: 'dictionary', message: /Acme-Group 1 redefines User-Name/ });
  t.throws(() => loadDictionaries([join(dir, 'missing')]), { code: 'dictionary', message: /cannot read \(ENOENT\)/ });
  // A failed load changes nothing: User-Name is still attribute 1.
  t.equal(hex('User-Name', 'u'), `0103${str('u')}`);
  t.throws(() => encodeAttribute('Acme-Group', 'x'), { code: 'unknown-attribute' });

  // An administrator's malformed line is refused with its line, not silently skipped.
  const broken = await w('dictionary.broken', `# ok\nATTRIBUTE Fine-One 246 string\nATTRIBUTE\tBroken\n`);
  t.throws(() => loadDictionaries([broken]), { code: 'dictionary', message: /dictionary\.broken: line 3: "ATTRIBUTE\s+Broken" is not a valid ATTRIBUTE line/ });
  const tlv = await w('dictionary.tlv', `ATTRIBUTE Tlv-Part 247.1 string\nVALUE Fine-Two Hex 0x10\n`);
  loadDictionaries([tlv]);
  t.pass('dotted (TLV) numbers and hex values are well formed (and not used)');

  // A file edited since it was loaded is read again (a SIGHUP after adding an attribute).
  const grows = await w('dictionary.grows', `ATTRIBUTE Grows-One 248 string\n`);
  loadDictionaries([grows]);
  t.throws(() => encodeAttribute('Grows-Two', 'x'), { code: 'unknown-attribute' });
  await w('dictionary.grows', `ATTRIBUTE Grows-One 248 string\nATTRIBUTE Grows-Two 249 string\n`);
  loadDictionaries([grows]);
  t.equal(hex('Grows-Two', 'x'), `f903${str('x')}`);
});
