/** Start-up faults close what was opened; reload applies new clients and refuses bad rules. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { SECRET, testConfig, startTestServer } from '../helpers/server.js';
import { radclient } from '../helpers/radclient.js';
import { startServer } from '../../src/server/app.js';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import winston from 'winston';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const require = createRequire(import.meta.url);

const quiet = () => winston.createLogger({ silent: true });

t.test('an address in use: start fails, and everything opened is closed again', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const text = testConfig(a.dir, '', [`127.0.0.1:${a.v4.port}`]);
  writeFileSync(a.configFile, text);
  const config = parseConfig(text, a.configFile);
  await t.rejects(startServer(config, { logger: quiet(), configFile: a.configFile, audit: memoryAuditSink() }), {
    message: `${a.configFile}:4: server.listen[0]: cannot bind 127.0.0.1:${a.v4.port}: address already in use (EADDRINUSE)`,
  });
  t.ok(a.server.store.users.list(), 'the shared store still works for the running server');
});

t.test('an address that cannot be bound stops the start, naming the key, its line, the address and why', async (t) => {
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  const start = (listen: string[], extra = ''): Promise<unknown> => {
    const text = testConfig(a.dir, extra, listen);
    writeFileSync(a.configFile, text);
    return startServer(parseConfig(text, a.configFile), { logger: quiet(), configFile: a.configFile, audit: memoryAuditSink() });
  };
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no address of this host.
  await t.rejects(start(['127.0.0.1:0', '192.0.2.1:0']), { key: 'server.listen[1]', line: 4, reason: 'cannot bind 192.0.2.1:0: not an address of this host (EADDRNOTAVAIL)' });
  await t.rejects(start(['[::ffff:127.0.0.1]:0']), { key: 'server.listen[0]', line: 4, reason: /^cannot bind \[::ffff:127\.0\.0\.1\]:0: bind EINVAL/ });
  await t.rejects(start(['127.0.0.1:0'], '[metrics]\nlisten = "192.0.2.1:0"\n'), { key: 'metrics.listen', line: 13, reason: 'cannot bind 192.0.2.1:0: not an address of this host (EADDRNOTAVAIL)' });
});

t.test('an audit log that cannot be written stops the start, naming log.audit, its line, the path and why', async (t) => {
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  // A regular file where a directory should be: ENOTDIR, for root too.
  writeFileSync(join(a.dir, 'plain'), '');
  const audit = join(a.dir, 'plain', 'audit.log');
  const text = testConfig(a.dir, '', ['127.0.0.1:0']).replace('audit = ""', `audit = "${audit}"`);
  writeFileSync(a.configFile, text);
  await t.rejects(startServer(parseConfig(text, a.configFile), { logger: quiet(), configFile: a.configFile }), {
    message: `${a.configFile}:9: log.audit: ${audit} cannot be written (ENOTDIR)`,
  });
});

t.test('no client, or a secret shorter than 16 octets: a warning at start and on reload, never the secret', async (t) => {
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  const short = () => a.logs.filter((l) => l.message === 'client secret shorter than 16 octets (RFC 2865 §3 prefers at least 16)');
  const none = () => a.logs.filter((l) => l.message === 'no [[client]] configured: every request will be discarded');
  t.match(short(), [
    { level: 'warn', client: 'local', setting: 'client[0].secret', file: a.configFile, line: 16 },
    { level: 'warn', client: 'local6', setting: 'client[1].secret', file: a.configFile, line: 20 },
  ]);
  t.equal(none().length, 0);
  t.notOk(JSON.stringify(short()).includes(SECRET), 'never the secret');
  // Reload without clients: a warning (the server runs on, and a later reload can add them).
  a.server.reload(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']).split('[[client]]')[0] as string, a.configFile));
  t.match(none(), [{ level: 'warn', file: a.configFile }]);
  t.equal(short().length, 2);
  a.server.reload(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']).replaceAll(SECRET, 'sixteen-octets-!'), a.configFile));
  t.equal(short().length, 2, '16 octets: no warning');
  a.server.reload(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']), a.configFile));
  t.equal(short().length, 4, 'again on the reload');
  t.equal(none().length, 1);
});

t.test('files with secrets that every user may read: a warning naming the file, at start and on reload', async (t) => {
  const { chmodSync, writeFileSync } = await import('node:fs');
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  const readable = () => a.logs.filter((l) => l.level === 'warn' && /is readable by every user/.test(String(l.message))).map((l) => l.file);
  chmodSync(a.configFile, 0o644);
  chmodSync(join(a.dir, 'radius-otp.db'), 0o600);
  const pw = join(a.dir, 'ldap.pw');
  writeFileSync(pw, 'service-password\n', { mode: 0o644 });
  chmodSync(pw, 0o644);
  a.server.reload(parseConfig(testConfig(a.dir, `[ldap]\nurls = ["ldap://127.0.0.1:1"]\nbase_dn = "dc=x"\nbind_password_file = "${pw}"\n`, ['127.0.0.1:0']), a.configFile));
  const seen = readable();
  t.ok(seen.includes(a.configFile), 'the config file (client secrets)');
  t.ok(seen.includes(pw), 'the LDAP password file');
  t.notOk(seen.includes(join(a.dir, 'radius-otp.db')), 'the store, 0600: no warning');
  chmodSync(join(a.dir, 'radius-otp.db'), 0o644);
  a.server.reload(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']), a.configFile));
  t.ok(readable().includes(join(a.dir, 'radius-otp.db')), 'a store restored 0644');
  t.notOk(JSON.stringify(a.logs).includes('service-password'));
});

t.test('reload: [auth] and [otp] apply to the next decisions; keys it cannot apply are named', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  await a.addUser('carol', 'pw-carol');
  const ask = async () => (await radclient(a.v4, SECRET, 'User-Name = "carol", User-Password = "pw-carol", NAS-Identifier = "n", Message-Authenticator = 0x00')).reply;
  t.equal(await ask(), 'Access-Reject', 'users_without_token = "reject" (the default)');
  const text = testConfig(a.dir, '[auth]\nusers_without_token = "password-only"\n').replace('[server]\n', '[server]\nhash_threads = 1\n');
  a.server.reload(parseConfig(text, a.configFile));
  t.equal(await ask(), 'Access-Accept', 'password-only now');
  t.ok(a.logs.some((l) => l.message === 'server.hash_threads changed: restart to apply'));
  t.notOk(a.logs.some((l) => /^auth.* changed/.test(String(l.message))), 'nothing said of what applied');
  a.server.reload(parseConfig(testConfig(a.dir), a.configFile));
  t.equal(await ask(), 'Access-Reject', 'and back');
});

t.test('reload: a changed [ldap] that the new config would use is refused whole; one nobody uses is a restart warning', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const ldap = '[ldap]\nurls = ["ldap://127.0.0.1:1"]\nbase_dn = "dc=x"\n';
  t.throws(() => a.server.reload(parseConfig(testConfig(a.dir, `[auth]\nprimary = "ldap"\n${ldap}`), a.configFile)), { key: 'ldap', reason: /restart to apply .* the reload is refused/ });
  await a.addUser('u', 'pw-u');
  const r = await radclient(a.v4, SECRET, 'User-Name = "u", User-Password = "pw-u", NAS-Identifier = "n", Message-Authenticator = 0x00');
  t.equal(r.reply, 'Access-Reject', 'still local: the running configuration stays (u has no token)');
  t.match(a.audit.at(-1), { reason: 'no-token' });
  a.server.reload(parseConfig(testConfig(a.dir, ldap), a.configFile));
  t.ok(a.logs.some((l) => l.message === 'ldap changed: restart to apply'), 'unused: applied later, with a warning');
});

t.test('reload: new clients apply; invalid reply rules are refused and the old config stays', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const next = parseConfig(testConfig(a.dir, '[[reply]]\nuser = "x"\nattributes = { "Nope-Attr" = "1" }\n'), a.configFile);
  t.throws(() => a.server.reload(next), { key: 'reply[0].attributes' });
  const moved = parseConfig(testConfig(a.dir, '', ['127.0.0.1:1']), a.configFile);
  a.server.reload(moved);
  t.ok(a.logs.some((l) => l.message === 'server.listen changed: restart to apply'));
  t.ok(a.logs.some((l) => l.message === 'reloaded'));
});

t.test('a bad [ldap] section stops the start, naming the key and line', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const { writeFileSync } = await import('node:fs');
  const text = testConfig(a.dir, '[auth]\nprimary = "ldap"\n[ldap]\nurls = ["ldap://127.0.0.1:1"]\nbase_dn = "dc=x"\nbind_password_file = "/nonexistent/pw"\n', ['127.0.0.1:0']);
  writeFileSync(a.configFile, text);
  const config = parseConfig(text, a.configFile);
  await t.rejects(startServer(config, { logger: quiet(), configFile: a.configFile, audit: memoryAuditSink() }), {
    key: 'ldap.bind_password_file',
    line: 17,
  });
});

t.test('a reply that cannot be sent is reported, and the server goes on', async (t) => {
  const { UdpServer } = await import('../../src/server/udp.js');
  const errors: string[] = [];
  const { createSocket } = await import('node:dgram');
  // A handler whose reply is too big for a datagram: the send fails with EMSGSIZE.
  const udp = new UdpServer(() => ({ handle: async () => Buffer.alloc(70_000) }) as never, (e) => errors.push((e as NodeJS.ErrnoException).code ?? ''));
  const [bound] = await udp.listen(['127.0.0.1:0']);
  const c = createSocket('udp4');
  await new Promise<void>((r) => c.send(Buffer.from('x'), bound!.port, '127.0.0.1', () => r()));
  for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  c.close();
  await udp.close();
  t.same(errors, ['EMSGSIZE']);
});

t.test('drop log lines are rate limited per source, and their stderr and audit lines add up to every drop', async (t) => {
  const a = await startTestServer({ extra: '' });
  t.teardown(() => a.stop());
  const text = testConfig(a.dir, '', ['127.0.0.1:0']).replace('drop_log_per_second = 1000', 'drop_log_per_second = 2');
  const sink = memoryAuditSink();
  const logs: Array<Record<string, unknown>> = [];
  const b = await startServer(parseConfig(text, a.configFile), { logger: captureLogger(logs), configFile: a.configFile, audit: sink });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : b.stop()));
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const stranger = await UdpClient.open('udp4', '127.0.0.2'); // no client of this server
  const nas = await UdpClient.open();
  t.teardown(() => (stranger.close(), nas.close()));
  const target = { host: '127.0.0.1', port: b.sockets[0]!.port };
  // A flood from an unknown address, and inside it a few forged requests from a configured client.
  for (let i = 0; i < 300; i++) {
    await stranger.send(Buffer.from('short'), target);
    if (i % 30 === 0) {
      const forged = encodeAccessRequest({ identifier: i / 30, authenticator: randomBytes(16), secret: Buffer.from('wrong'), userName: 'u', password: 'p', nasIdentifier: 'n' });
      await nas.send(forged, target);
    }
  }
  const drops = (client: string) => logs.filter((l) => l.message === 'dropped packet' && l.client === client);
  const audited = (client: string) => sink.events.filter((e) => e.event === 'drop' && e.client === client);
  const sum = (lines: ReadonlyArray<{ suppressed?: unknown }>): number => lines.reduce((n, l) => n + 1 + ((l.suppressed as number | undefined) ?? 0), 0);
  for (let i = 0; i < 300 && sum(drops('')) < 300; i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(drops('local').length >= 2, "the client's drops are logged through the flood");
  t.match(drops('local'), [{ level: 'warn', reason: 'ma-invalid', client_ip: '127.0.0.1' }]);
  // Once the flood is over, the last second's left-out drops are written without a stop.
  t.equal(sum(drops('')), 300, 'stderr: every drop from the unknown address');
  t.equal(sum(audited('')), 300, 'audit: the same');
  t.ok(drops('').length < 300, 'in fewer lines');
  await b.stop();
  stopped = true;
  t.equal(sum(drops('local')), 10, 'stderr: every drop from the client');
  t.equal(sum(audited('local')), 10, 'audit: the same');
  const lines = (l: { client?: unknown; reason?: unknown; client_ip?: unknown; suppressed?: unknown }) => [l.client, l.reason, l.client_ip, l.suppressed];
  t.same(sink.events.map(lines), logs.filter((l) => l.message === 'dropped packet').map(lines), 'the audit lines are the stderr lines, suppressed counts included');
  const metric = await b.metrics.registry.getSingleMetricAsString('radius_drops_total');
  t.match(metric, /radius_drops_total\{reason="unknown-client"\} 300\n/);
  t.match(metric, /radius_drops_total\{reason="ma-invalid"\} 10\n/);
});

t.test('stop waits for decisions under way, and they are audited', async (t) => {
  const a = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n' });
  await a.addUser('alice', 'pw');
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  await c.send(encodeAccessRequest({ identifier: 1, authenticator: randomBytes(16), secret: Buffer.from('testing123'), userName: 'alice', password: 'pw', nasIdentifier: 'n' }), a.v4);
  const reply = c.receive(20_000); // argon2id took > 3 s on a loaded CI machine
  await new Promise((r) => setTimeout(r, 5)); // received, argon2 under way
  await a.stop();
  t.match(a.audit.at(-1), { result: 'accept', user: 'alice' }, 'the decision finished before the store closed');
  t.equal((await reply)?.[0], 2, 'and its Access-Accept went out');
});

/** Sends `n` Access-Requests of alice at once from 127.0.0.1; returns the count of replies so far. */
async function burst(t: Tap.Test, port: number, n: number, password: string): Promise<() => number> {
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const { createSocket } = await import('node:dgram');
  const c = createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
  t.teardown(() => c.close());
  let replies = 0;
  c.on('message', () => replies++);
  for (let i = 0; i < n; i++) {
    const packet = encodeAccessRequest({ identifier: i, authenticator: randomBytes(16), secret: Buffer.from('testing123'), userName: 'alice', password, nasIdentifier: 'n' });
    await new Promise((r) => c.send(packet, port, '127.0.0.1', r));
  }
  return () => replies;
}

t.test('stop under load: requests still being decided after the drain are dropped, as one warning', async (t) => {
  const a = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n', server: 'hash_threads = 1', drainMs: 100 });
  await a.addUser('alice', 'pw');
  const sent = 60; // one hash thread takes well over 100 ms for these
  const replies = await burst(t, a.v4.port, sent, 'pw');
  // Stopped once hashing is under way (the first decision made).
  while (!a.logs.some((l) => l.message === 'decision')) await new Promise((r) => setTimeout(r, 5));
  await a.stop();
  await new Promise((r) => setTimeout(r, 50)); // the last replies arrive
  const stopping = a.logs.filter((l) => l.message === 'stopping: requests still being decided were dropped, unanswered');
  t.match(stopping, [{ level: 'warn', drain_ms: 100 }], 'one line');
  const dropped = stopping[0]?.dropped as number;
  t.ok(dropped > 0, 'some were dropped');
  t.equal(a.audit.length + dropped, sent, 'each request is either audited or counted as dropped');
  t.equal(replies(), a.audit.length, 'and each audited decision was answered');
  t.notOk(a.audit.some((e) => e.event === 'decision' && e.reason === 'internal-error'), 'none decided as internal-error');
  t.same(a.logs.filter((l) => l.level === 'error' || l.message === 'socket error'), [], 'no error line, no socket error');
});

t.test('stop under load: a request dropped at stop uses no code and counts no failure', async (t) => {
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  await a.addUser('alice', 'pw');
  const { totpRecord } = await import('../helpers/store.js');
  a.server.store.tokens.importMany([totpRecord('S-1', { user: 'alice' })], { replace: false, createUsers: false });
  await a.stop();
  const text = testConfig(a.dir, '[otp]\nmax_failures = 1000\n', ['127.0.0.1:0'], 'hash_threads = 1');
  const sink = memoryAuditSink();
  // An audit log slow to close: password checks that would end meanwhile must not go on to decide.
  const audit = { record: sink.record, close: () => new Promise<void>((r) => setTimeout(r, 1000)) };
  const config = parseConfig(text, a.configFile);
  // At t = 59 s the codes of steps 0-2 are 755224, 287082 and 359152 (RFC 4226 Appendix D): 000000 is wrong.
  const b = await startServer(config, { logger: quiet(), configFile: a.configFile, audit, drainMs: 100, now: () => 59 });
  await burst(t, b.sockets[0]!.port, 100, 'pw000000');
  while (sink.events.length === 0) await new Promise((r) => setTimeout(r, 5)); // hashing under way
  await b.stop();
  const { openStore } = await import('../../src/store/open.js');
  const store = openStore(config, () => {});
  t.teardown(() => store.close());
  const audited = sink.events.filter((e) => e.event === 'decision' && e.reason === 'wrong-code').length;
  t.ok(audited > 0 && audited < 100, `some answered (${audited}), some dropped`);
  t.equal(store.tokens.get('S-1')?.failures, audited, 'a failure counted for each audited wrong code, and no other');
});

function captureLogger(into: Array<Record<string, unknown>>): winston.Logger {
  const { Writable } = require('node:stream') as typeof import('node:stream');
  return winston.createLogger({
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream: new Writable({ write(chunk, _e, cb) { into.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } }) })],
  });
}

t.test('a store fault during a decision: Access-Reject, one error line, the server goes on', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  a.server.store.db.close();
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  const reply = await c.exchange(encodeAccessRequest({ identifier: 1, authenticator: randomBytes(16), secret: Buffer.from('testing123'), userName: 'alice', password: 'pw', nasIdentifier: 'n' }), a.v4);
  t.equal(reply?.[0], 3, 'Access-Reject');
  t.ok(a.logs.some((l) => l.message === 'decision failed: request rejected'));
  t.match(a.audit.at(-1), { result: 'reject', reason: 'internal-error' });
});

t.test('the checkpoint thread fails: one error line, the server checkpoints itself and goes on', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  await a.server.checkpointer.worker?.terminate();
  await a.server.checkpointer.stop();
  t.ok(a.logs.some((l) => l.level === 'error' && l.message === 'store: the checkpoint thread stopped; the server checkpoints the WAL itself again'));
  t.equal(a.server.store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  const reply = await c.exchange(encodeAccessRequest({ identifier: 2, authenticator: randomBytes(16), secret: Buffer.from('testing123'), userName: 'nobody', password: 'pw', nasIdentifier: 'n' }), a.v4);
  t.equal(reply?.[0], 3, 'still answering');
});

t.test('at level warn, decisions go to the audit sink but not to the log', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const logs: Array<Record<string, unknown>> = [];
  const logger = captureLogger(logs);
  logger.level = 'warn';
  const audit = memoryAuditSink();
  const b = await startServer(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']), a.configFile), { logger, configFile: a.configFile, audit });
  t.teardown(() => b.stop());
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const { randomBytes } = await import('node:crypto');
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  const packet = encodeAccessRequest({ identifier: 3, authenticator: randomBytes(16), secret: Buffer.from('testing123'), userName: 'zed', password: 'pw', nasIdentifier: 'n' });
  t.equal((await c.exchange(packet, { host: '127.0.0.1', port: b.sockets[0]!.port }))?.[0], 3);
  t.equal(audit.events.length, 1);
  t.notOk(logs.some((l) => l.message === 'decision'));
});

t.test('the token mirror is loaded before the server listens, and the log says how much it holds', async (t) => {
  const a = await startTestServer({ listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  const { totpRecord } = await import('../helpers/store.js');
  a.server.store.tokens.importMany([totpRecord('L-1', { user: 'u1' }), totpRecord('L-2', { user: 'u1' }), totpRecord('L-3', { user: 'u2' })], {
    replace: false,
    createUsers: true,
  });
  await a.server.store.tokens.settled();
  const lines: Array<{ message: string; [k: string]: unknown }> = [];
  const logger = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
  logger.on('data', (line) => lines.push(line));
  const b = await startServer(parseConfig(testConfig(a.dir, '', ['127.0.0.1:0']), a.configFile), { logger, configFile: a.configFile, audit: memoryAuditSink() });
  t.teardown(() => b.stop());
  t.same(b.store.tokens.mirrorStats(), { users: 2, tokens: 3, clears: 0 }, 'held when start returns');
  const loaded = lines.findIndex((l) => l.message === 'token mirror loaded');
  t.match(lines[loaded], { users: 2, tokens: 3, clears: 0, ms: Number });
  t.ok(loaded < lines.findIndex((l) => l.message === 'listening'), 'before it listens');
  t.equal(b.store.db.pragma('cache_size', { simple: true }), -4000, 'a 4 MB page cache: the mirror answers the reads');
});
