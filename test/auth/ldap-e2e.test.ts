/**
 * End to end: radclient → the server with primary = "ldap" → a throwaway slapd, and the
 * [[reply]] attributes of the user's groups in the Access-Accept.
 */
import t from 'tap';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { startSlapd } from '../helpers/slapd.js';

const MA = 'Message-Authenticator = 0x00';

const slapd = await startSlapd();
t.teardown(() => slapd.stop());

const extra = `
[auth]
primary = "ldap"
users_without_token = "password-only"

[ldap]
urls = ["ldap://127.0.0.1:1", "${slapd.url}"]
bind_dn = "${slapd.bindDn}"
bind_password = "${slapd.bindPassword}"
base_dn = "${slapd.baseDn}"
user_filter = "(uid={user})"
timeout = 2

[[reply]]
group = "CN=VPN-Admins,OU=Groups,DC=example,DC=com"
attributes = { "Class" = "vpn-admins", "Filter-Id" = "admins" }

[[reply]]
group = "cn=VPN-Users,ou=Groups,dc=example,dc=com"
attributes = { "Tunnel-Type:1" = "VLAN", "Tunnel-Medium-Type:1" = "IEEE-802", "Tunnel-Private-Group-Id:1" = "100" }

[[reply]]
user = "bob"
attributes = { "Session-Timeout" = 3600 }
`;

const s = await startTestServer({ extra });
t.teardown(() => s.stop());

const ask = (user: string, password: string) =>
  radclient(s.v4, SECRET, `User-Name = "${user}", User-Password = "${password}", NAS-Identifier = "gw", ${MA}`);

/** The reply part of radclient's output (its attribute list parser stops at tagged names such as "Tunnel-Type:1"). */
const replyText = (stdout: string): string => stdout.slice(stdout.indexOf('Received '));
const HINT = 'reply attributes missing: src/server/reply-attributes.ts must call loadDictionaries + compileReplyRules';

t.test('alice (VPN-Admins, VPN-Users): Access-Accept with both groups\' attributes', async (t) => {
  const r = await ask('alice', 'alice-pass-1');
  t.equal(r.reply, 'Access-Accept', r.stdout + r.stderr);
  t.equal(r.attributes[0]?.[0], 'Message-Authenticator');
  const text = replyText(r.stdout);
  // Class is octets: radclient prints it in hex.
  t.match(text, /Class = 0x76706e2d61646d696e73\s+Filter-Id = "admins"\s+Tunnel-Type:1 = VLAN\s+Tunnel-Medium-Type:1 = IEEE-802\s+Tunnel-Private-Group-Id:1 = "100"/, HINT);
});

t.test('bob (VPN-Users; a user rule): VLAN and Session-Timeout, no admin attributes', async (t) => {
  const r = await ask('bob', 'bob-pass-2');
  t.equal(r.reply, 'Access-Accept', r.stdout + r.stderr);
  const text = replyText(r.stdout);
  t.match(text, /Tunnel-Type:1 = VLAN\s+Tunnel-Medium-Type:1 = IEEE-802\s+Tunnel-Private-Group-Id:1 = "100"\s+Session-Timeout = 3600/, HINT);
  t.notMatch(text, /Filter-Id|Class/);
});

t.test('carol (no group): Access-Accept with no reply attributes', async (t) => {
  const r = await ask('carol', 'carol-pass-3');
  t.equal(r.reply, 'Access-Accept', r.stdout + r.stderr);
  t.same(
    r.attributes.map(([n]) => n),
    ['Message-Authenticator'],
  );
});

t.test('wrong password and injected names: Access-Reject', async (t) => {
  t.equal((await ask('alice', 'wrong')).reply, 'Access-Reject');
  t.equal((await ask('*', 'alice-pass-1')).reply, 'Access-Reject');
  t.equal((await ask('alice)(uid=*', 'alice-pass-1')).reply, 'Access-Reject');
});
