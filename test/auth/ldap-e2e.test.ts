/**
 * End to end: radclient → the server with primary = "ldap" → a throwaway slapd, and the
 * [[reply]] attributes of the user's groups in the Access-Accept; a stop while a bind is under way.
 */
import t from 'tap';
import winston from 'winston';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import { parseConfig } from '../../src/config/load.js';
import { hotpCode } from '../../src/otp/generate.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { startServer } from '../../src/server/app.js';
import { openStore } from '../../src/store/open.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer, testConfig } from '../helpers/server.js';
import { startSlapd } from '../helpers/slapd.js';
import { totpRecord } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';
import { UdpClient } from '../helpers/udp-client.js';

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

t.test('a directory user with a token: challenge, then the code; reply attributes survive the challenge', async (t) => {
  const { totpRecord } = await import('../helpers/store.js');
  const { totpCode } = await import('../helpers/oathtool.js');
  const key = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
  // Tokens are assigned to the directory's own user name (no local user needed).
  s.server.store.tokens.importMany([totpRecord('LDAP-T1', { secret: key })], { replace: false, createUsers: false });
  s.server.store.tokens.assign('LDAP-T1', 'alice');
  const ch = await ask('alice', 'alice-pass-1');
  t.equal(ch.reply, 'Access-Challenge');
  const state = ch.attributes.find(([n]) => n === 'State')?.[1];
  const code = totpCode(key.toString('hex'), Math.floor(Date.now() / 1000));
  const r = await radclient(s.v4, SECRET, `User-Name = "alice", User-Password = "${code}", State = ${state}, NAS-Identifier = "gw", ${MA}`);
  t.equal(r.reply, 'Access-Accept', r.stdout);
  t.match(replyText(r.stdout), /Filter-Id = "admins"/, 'the groups found at the password step apply');
  t.match(s.audit.at(-1), { result: 'accept', mode: 'challenge', user: 'alice', token_serial: 'LDAP-T1' });
  const replay = await ask('alice', `alice-pass-1${code}`);
  t.equal(replay.reply, 'Access-Reject', 'the same code in password+code form is a replay');
  t.match(s.audit.at(-1), { reason: 'replayed-code' });
});

t.test('another spelling of a name with a token is challenged too (it was let in on the password alone)', async (t) => {
  // alice has LDAP-T1 (the test above); users_without_token = "password-only".
  for (const name of ['ALICE', 'alice ', 'Alice']) {
    t.equal((await ask(name, 'alice-pass-1')).reply, 'Access-Challenge', name);
    t.match(s.audit.at(-1), { result: 'challenge', user: 'alice' });
  }
});

t.test('an app password needs the user in the directory, and brings the directory groups', async (t) => {
  const { hashAppPassword } = await import('../../src/auth/app-passwords.js');
  s.server.store.appPasswords.create('bob', 'imap', hashAppPassword('bob-app-password'));
  s.server.store.appPasswords.create('ghost', 'imap', hashAppPassword('ghost-app-password'));
  const bob = await ask('bob', 'bob-app-password');
  t.equal(bob.reply, 'Access-Accept');
  t.match(replyText(bob.stdout), /Tunnel-Private-Group-Id:1 = "100"\s+Session-Timeout = 3600/, 'the VPN-Users VLAN of bob’s directory group');
  t.match(s.audit.at(-1), { result: 'accept', mode: 'app-password', user: 'bob' });
  t.equal((await ask('ghost', 'ghost-app-password')).reply, 'Access-Reject', 'not (or no longer) in the directory');
  t.match(s.audit.at(-1), { result: 'reject', mode: 'app-password', reason: 'unknown-user' });
});

t.test('directory down: Access-Reject with reason directory-unavailable, other clients still served', async (t) => {
  const down = await startTestServer({
    extra: `[auth]\nprimary = "ldap"\n[ldap]\nurls = ["ldap://127.0.0.1:1"]\nbase_dn = "dc=example,dc=com"\ntimeout = 1\n`,
    clients: '[[client]]\nname = "code-only"\naddress = "127.0.0.2"\nsecret = "other"\nprimary = "none"\n',
  });
  t.teardown(() => down.stop());
  const r = await radclient(down.v4, SECRET, `User-Name = "alice", User-Password = "alice-pass-1", NAS-Identifier = "gw", ${MA}`, { timeout: 5 });
  t.equal(r.reply, 'Access-Reject');
  t.match(down.audit.at(-1), { result: 'reject', reason: 'directory-unavailable' });
  t.ok(down.logs.some((l) => l.level === 'warn' && l.message === 'directory unavailable' && /ldap:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/.test(String(l.detail))), 'the log says why');
  // Once a second at most; the next line says how many were left out.
  const lines = () => down.logs.filter((l) => l.message === 'directory unavailable');
  const before = lines().length;
  await Promise.all(['x', 'y', 'z'].map((pw) => radclient(down.v4, SECRET, `User-Name = "bob", User-Password = "${pw}", NAS-Identifier = "gw", ${MA}`, { timeout: 5 })));
  t.ok(lines().length <= before + 1, 'three at once: one line at most');
  await new Promise((r) => setTimeout(r, 1100));
  await radclient(down.v4, SECRET, `User-Name = "bob", User-Password = "w", NAS-Identifier = "gw", ${MA}`, { timeout: 5 });
  t.ok(Number(lines().at(-1)?.suppressed) >= 2, 'the next says how many were left out');
  const status = await radclient(down.v4, SECRET, MA, { command: 'status' });
  t.equal(status.reply, 'Access-Accept', 'the server keeps serving');
});

t.test('stop: a request whose directory bind is still under way when the drain ends uses no code', async (t) => {
  // A slow directory: every answer of slapd reaches the server 300 ms late.
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(new URL(slapd.url).port), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => setTimeout(() => client.writable && client.write(d), 300));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => setTimeout(() => client.destroy(), 300));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    proxy.close();
  });
  const port = (proxy.address() as { port: number }).port;
  const dir = tempDir('radius-otp-ldap-stop-');
  const configFile = join(dir, 'radius.conf');
  const ldap = `[auth]\nprimary = "ldap"\n[ldap]\nurls = ["ldap://127.0.0.1:${port}"]\nbind_dn = "${slapd.bindDn}"\nbind_password = "${slapd.bindPassword}"\nbase_dn = "${slapd.baseDn}"\nuser_filter = "(uid={user})"\ntimeout = 5\n`;
  const text = testConfig(dir, ldap, ['127.0.0.1:0']);
  writeFileSync(configFile, text);
  const sink = memoryAuditSink();
  // An audit log slow to close, as in the stop-under-load test: the closers after the sockets take time.
  const audit = { record: sink.record, close: () => new Promise<void>((r) => setTimeout(r, 1500)) };
  const now = 59; // RFC 4226 Appendix D: steps 0-2 give 755224, 287082, 359152
  const server = await startServer(parseConfig(text, configFile), { logger: winston.createLogger({ silent: true }), configFile, audit, drainMs: 100, now: () => now });
  server.store.tokens.importMany([totpRecord('AL-1', { user: 'alice' })], { replace: false, createUsers: true });
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  const code = hotpCode(Buffer.from('12345678901234567890'), 1, 6, 'SHA1');
  await c.send(encodeAccessRequest({ identifier: 1, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: 'alice', password: `alice-pass-1${code}`, nasIdentifier: 'gw' }), server.sockets[0]!);
  await new Promise((r) => setTimeout(r, 200)); // the service bind and search are under way
  await server.stop();
  const store = openStore(parseConfig(text, configFile), () => {});
  t.teardown(() => store.close());
  t.match(store.tokens.get('AL-1'), { lastStep: null, failures: 0 }, 'the code is not used: the bind ended after the drain, the request was dropped');
  t.same(sink.events.filter((e) => e.event === 'decision'), [], 'and it was not audited');
});
