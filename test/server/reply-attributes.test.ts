/** [[reply]] rules at start: errors name the line; local groups get their attributes in Access-Accept. */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { buildReplyAttributes } from '../../src/server/reply-attributes.js';
import { configErrorAt } from '../../src/config/load.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

function configFile(text: string): string {
  const file = join(tempDir('reply-'), 'radius.conf');
  writeFileSync(file, text);
  return file;
}

t.test('an unknown attribute name stops the server, naming the rule line', async (t) => {
  const text = '[[reply]]\nuser = "alice"\nattributes = { "Class" = "x" }\n\n[[reply]]\ngroup = "g"\nattributes = { "No-Such-Attribute" = "x" }\n';
  const file = configFile(text);
  const config = parseConfig(text, file);
  const err = (() => {
    try {
      buildReplyAttributes(config, file);
    } catch (e) {
      return e;
    }
  })();
  t.type(err, ConfigError);
  t.match(err, { key: 'reply[1].attributes', line: 7, reason: /No-Such-Attribute/ });
});

t.test('an unreadable dictionary stops the server, naming the key', async (t) => {
  const text = 'dictionaries = ["/nonexistent/dictionary.acme"]\n';
  const file = configFile(text);
  t.throws(() => buildReplyAttributes(parseConfig(text, file), file), { key: 'dictionaries', line: 1 });
});

t.test('a config file gone since loading still gives the key', async (t) => {
  const e = configErrorAt('/nonexistent/radius.conf', ['reply', 0, 'attributes'], 'bad');
  t.equal(e.line, 0);
  t.equal(e.key, 'reply[0].attributes');
});

t.test('primary = "ldap" without [ldap] urls is refused at load', async (t) => {
  t.throws(() => parseConfig('[auth]\nprimary = "ldap"\n', '/x.conf'), { key: 'ldap.urls' });
  t.throws(() => parseConfig('[[client]]\nname = "a"\naddress = "::1"\nsecret = "s"\nprimary = "ldap"\n[ldap]\nurls = []\n', '/x.conf'), {
    key: 'ldap.urls',
    line: 7,
  });
});

t.test('local users: group and user rules add attributes to Access-Accept (radclient)', async (t) => {
  const s = await startTestServer({
    extra: `[auth]\nusers_without_token = "password-only"\n
[[reply]]
group = "vpn-admins"
attributes = { "Class" = "admins", "Session-Timeout" = 3600 }

[[reply]]
user = "alice"
attributes = { "Tunnel-Type" = "VLAN", "Tunnel-Medium-Type" = "IEEE-802", "Tunnel-Private-Group-Id" = "100", "Fortinet-Group-Name" = "vpn" }
`,
  });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'pw');
  await s.addUser('bob', 'pw');
  s.server.store.users.addToGroup('alice', 'vpn-admins');
  const r = await radclient(s.v4, SECRET, 'User-Name = "alice", User-Password = "pw", NAS-Identifier = "gw", Message-Authenticator = 0x00');
  t.equal(r.reply, 'Access-Accept');
  t.equal(r.attributes[0]?.[0], 'Message-Authenticator');
  t.match(r.stdout, /Class = 0x61646d696e73|Class = "admins"/);
  t.match(r.stdout, /Session-Timeout = 3600/);
  t.match(r.stdout, /Tunnel-Type(:0)? = VLAN/);
  t.match(r.stdout, /Tunnel-Private-Group-Id(:0)? = "100"/);
  t.match(r.stdout, /Fortinet-Group-Name = "vpn"/);
  const bob = await radclient(s.v4, SECRET, 'User-Name = "bob", User-Password = "pw", NAS-Identifier = "gw", Message-Authenticator = 0x00');
  t.equal(bob.reply, 'Access-Accept');
  t.notMatch(bob.stdout, /Class|Session-Timeout|Tunnel/);
});
