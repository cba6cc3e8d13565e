import t from 'tap';
import type { Config } from '../../src/config/schema.js';
import { compileReplyRules, normalizeGroup } from '../../src/auth/reply-rules.js';
import { encodeAttribute } from '../../src/radius/attributes.js';

const ADMINS = 'CN=VPN-Admins,OU=Groups,DC=example,DC=com';
const USERS = 'CN=VPN-Users,OU=Groups,DC=example,DC=com';

const rules: Config['reply'] = [
  { group: ADMINS, attributes: { Class: 'vpn-admins', 'Filter-Id': 'admins' } },
  { group: USERS, attributes: { 'Fortinet-Group-Name': 'vpn-users', 'Cisco-AVPair': ['ip:addr-pool=users', 'shell:priv-lvl=1'] } },
  { user: 'alice', attributes: { 'Tunnel-Type:1': 'VLAN', 'Tunnel-Medium-Type:1': 'IEEE-802', 'Tunnel-Private-Group-Id:1': '100' } },
  { group: ADMINS, attributes: { 'Session-Timeout': 3600 } },
];

const hex = (bufs: readonly Buffer[]): string[] => bufs.map((b) => b.toString('hex'));
const enc = (name: string, value: string | number): string => encodeAttribute(name, value).toString('hex');

const compiled = compileReplyRules(rules);
if (!compiled.ok) throw new Error(compiled.message);
const r = compiled.rules;

t.test('every matching rule applies, in file order', async (t) => {
  t.same(hex(r.attributesFor('alice', [USERS, ADMINS])), [
    enc('Class', 'vpn-admins'),
    enc('Filter-Id', 'admins'),
    enc('Fortinet-Group-Name', 'vpn-users'),
    enc('Cisco-AVPair', 'ip:addr-pool=users'),
    enc('Cisco-AVPair', 'shell:priv-lvl=1'),
    enc('Tunnel-Type:1', 'VLAN'),
    enc('Tunnel-Medium-Type:1', 'IEEE-802'),
    enc('Tunnel-Private-Group-Id:1', '100'),
    enc('Session-Timeout', 3600),
  ]);
});

t.test('group match: case-insensitive, spaces around DN separators ignored', async (t) => {
  const expected = [enc('Class', 'vpn-admins'), enc('Filter-Id', 'admins'), enc('Session-Timeout', 3600)];
  t.same(hex(r.attributesFor('bob', ['cn=vpn-admins,ou=groups,dc=example,dc=com'])), expected);
  t.same(hex(r.attributesFor('bob', ['CN=VPN-Admins, OU=Groups, DC=example, DC=com'])), expected);
  t.same(hex(r.attributesFor('bob', ['CN=VPN-Admins,OU=Other,DC=example,DC=com'])), []);
  t.equal(normalizeGroup(' CN = A\\, B , OU=X '), 'cn=a\\, b,ou=x', 'an escaped comma is part of the value');
});

t.test('user match is exact', async (t) => {
  t.equal(r.attributesFor('alice', []).length, 3);
  t.same(r.attributesFor('Alice', []), []);
  t.same(r.attributesFor('alice2', []), []);
});

t.test('no rules: nothing', async (t) => {
  const none = compileReplyRules([]);
  t.equal(none.ok, true);
  if (none.ok) t.same(none.rules.attributesFor('alice', [ADMINS]), []);
});

t.test('the result is a fresh array of the precomputed buffers', async (t) => {
  const a = r.attributesFor('bob', [ADMINS]);
  const b = r.attributesFor('bob', [ADMINS]);
  t.not(a, b);
  t.equal(a[0], b[0]);
});

t.test('a bad attribute names the rule index and the attribute', async (t) => {
  t.same(
    compileReplyRules([
      { user: 'alice', attributes: { Class: 'x' } },
      { group: ADMINS, attributes: { 'Filter-Id': 'ok', 'No-Such-Attribute': 'x' } },
    ]),
    { ok: false, index: 1, attribute: 'No-Such-Attribute', message: 'No-Such-Attribute: no such attribute in the loaded dictionaries' },
  );
  t.match(compileReplyRules([{ user: 'a', attributes: { 'Session-Timeout': ['60', 'soon'] } }]), {
    ok: false,
    index: 0,
    attribute: 'Session-Timeout',
    message: /"soon" is not a number/,
  });
  t.same(compileReplyRules([{ user: 'a', attributes: { Class: [] } }]), {
    ok: false,
    index: 0,
    attribute: 'Class',
    message: 'Class: empty list of values',
  });
});
