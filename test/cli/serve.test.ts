/**
 * The built server as a process: configuration errors stop it with key and line; SIGHUP reloads
 * clients without dropping a packet; SIGTERM stops it cleanly; an accepted code stays used after
 * kill -9 and a restart.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { Code } from '../../src/radius/codes.js';
import { radclient } from '../helpers/radclient.js';
import { run, serve } from '../helpers/process.js';
import { UdpClient } from '../helpers/udp-client.js';
import { totpCode } from '../helpers/oathtool.js';
import { tempDir } from '../helpers/tmp.js';
import { SCHED_IDLE, SCHED_OTHER, threadsOf, type ThreadSched } from '../../src/sched/idle-policy.js';

function workspace(clients: string, extra = ''): { dir: string; config: string; write: (clients: string, extra?: string) => void } {
  const dir = tempDir('radius-otp-serve-');
  const config = join(dir, 'radius.conf');
  const write = (c: string, e = extra): void =>
    writeFileSync(config, `[server]\nlisten = ["127.0.0.1:0"]\n[log]\nlevel = "info"\n${e}\n${c}`);
  write(clients);
  return { dir, config, write };
}

const CLIENT = '[[client]]\nname = "gw"\naddress = "127.0.0.1"\nsecret = "s1"\n';
const MA = 'Message-Authenticator = 0x00';

t.test('a wrong config stops the server, naming key and line', async (t) => {
  const w = workspace(`${CLIENT}\n[otp]\nwindow = 1\nmax_failure = 3\n`);
  const r = await run(['serve', '--config', w.config]);
  t.equal(r.code, 1);
  t.match(r.stderr, `${w.config}:13: otp.max_failure: unknown key`);
  t.equal(r.stdout, '', 'never listened');
  const env = await run(['user', 'list'], '');
  t.equal(env.code, 1, 'no ./radius.conf here: refused');
  t.match(env.stderr, /radius\.conf: file not found/);
  const empty = await run(['user', 'list', '--config', '']);
  t.equal(empty.code, 2, '--config "" is a usage error');
  t.equal(empty.stderr, 'radius-otp: --config needs a file name\n');
});

/** The last line of stderr (the log lines of the start come before it). */
const lastLine = (stderr: string): string => stderr.trimEnd().split('\n').at(-1) as string;

t.test('an address it cannot bind: serve exits 1, naming server.listen, its line, the address and why', async (t) => {
  const w = workspace(CLIENT);
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no address of this host.
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace('127.0.0.1:0', '192.0.2.1:0'));
  const absent = await run(['serve', '--config', w.config]);
  t.equal(absent.code, 1);
  t.equal(absent.stdout, '', 'never listened');
  t.equal(lastLine(absent.stderr), `radius-otp: cannot start: ${w.config}:2: server.listen[0]: cannot bind 192.0.2.1:0: not an address of this host (EADDRNOTAVAIL)`);

  const taken = createSocket('udp4');
  await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = taken.address().port;
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace('192.0.2.1:0', `127.0.0.1:${port}`));
  const inUse = await run(['serve', '--config', w.config]);
  t.equal(inUse.code, 1);
  t.equal(lastLine(inUse.stderr), `radius-otp: cannot start: ${w.config}:2: server.listen[0]: cannot bind 127.0.0.1:${port}: address already in use (EADDRINUSE)`);
});

t.test('an audit log it cannot write: serve exits 1, naming log.audit, its line, the path and why', async (t) => {
  const w = workspace(CLIENT);
  // A regular file where the audit directory should be: ENOTDIR, for root too.
  writeFileSync(join(w.dir, 'plain'), '');
  w.write(CLIENT, 'audit = "plain/audit.log"\n');
  const audit = await run(['serve', '--config', w.config]);
  t.equal(audit.code, 1);
  t.equal(audit.stdout, '', 'never listened');
  t.equal(lastLine(audit.stderr), `radius-otp: cannot start: ${w.config}:5: log.audit: ${join(w.dir, 'plain', 'audit.log')} cannot be written (ENOTDIR)`);
  t.notMatch(audit.stderr, /audit log: /, 'no write fault reported: it never ran');
});

t.test('a short client secret or no client at all: serve runs with a warning at start and on SIGHUP, never the secret', async (t) => {
  const short = '[[client]]\nname = "gw"\naddress = "127.0.0.1"\nsecret = "Qz"\n';
  const w = workspace(short);
  const s = await serve(w.config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const warnings = (message: string): Array<Record<string, unknown>> =>
    s.stderr().split('\n').filter((l) => l.includes(message)).map((l) => JSON.parse(l) as Record<string, unknown>);
  const until = async (message: string, n: number): Promise<void> => {
    for (let i = 0; i < 500 && warnings(message).length < n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  await until('client secret shorter', 1);
  t.match(warnings('client secret shorter'), [{ level: 'warn', message: 'client secret shorter than 16 octets (RFC 2865 §3 prefers at least 16)', client: 'gw', setting: 'client[0].secret', file: w.config, line: 9 }]);

  w.write('');
  s.child.kill('SIGHUP');
  await until('no [[client]]', 1);
  t.match(warnings('no [[client]]'), [{ level: 'warn', message: 'no [[client]] configured: every request will be discarded', file: w.config }]);
  t.equal((await run(['user', 'add', 'bob', '--config', w.config])).code, 0, 'other commands need no client');

  w.write(`# the client is back\n${short}`);
  s.child.kill('SIGHUP');
  await until('client secret shorter', 2);
  t.match(warnings('client secret shorter').at(-1), { client: 'gw', setting: 'client[0].secret', line: 10 }, 'again on reload, at its new line');
  t.notMatch(s.stderr(), /Qz/, 'never the secret');
  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0);
});

t.test('a master key readable by others stops the server, naming the file', async (t) => {
  const w = workspace(CLIENT);
  writeFileSync(join(w.dir, 'data-key'), `${'ab'.repeat(32)}\n`);
  chmodSync(join(w.dir, 'data-key'), 0o644);
  w.write(CLIENT, '[store]\nkey_file = "data-key"\n');
  const r = await run(['serve', '--config', w.config]);
  t.equal(r.code, 1);
  t.match(r.stderr, /data-key.*readable by group or others/);
  t.notMatch(r.stderr, /abab/, 'the key never appears');
});

t.test('a master key that cannot open the store: the server does not start; a lost key is not replaced', async (t) => {
  const w = workspace(CLIENT, '[store]\nkey_file = "data-key"\n');
  writeFileSync(join(w.dir, 'one.csv'), 'K1,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,30\n');
  t.equal((await run(['import', 'csv', join(w.dir, 'one.csv'), '--config', w.config])).code, 0);
  const original = readFileSync(join(w.dir, 'data-key'));

  // Another valid key: every secret would fail closed, so serve refuses, naming the key.
  writeFileSync(join(w.dir, 'data-key'), `${'cd'.repeat(32)}\n`, { mode: 0o600 });
  const wrong = await run(['serve', '--config', w.config]);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /store\.key_file: token secrets in .* sealed with another master key: 1;/);
  t.equal(wrong.stdout, '', 'never listened');

  // No key file at all: a new one would open nothing, so none is made and the store is refused.
  rmSync(join(w.dir, 'data-key'));
  const lost = await run(['token', 'list', '--config', w.config]);
  t.equal(lost.code, 1);
  t.match(lost.stderr, /data-key does not exist, and .* holds token secrets sealed with the key it held \(1\)/);
  t.notOk(existsSync(join(w.dir, 'data-key')), 'no new key file left behind');

  writeFileSync(join(w.dir, 'data-key'), original, { mode: 0o600 });
  t.match((await run(['token', 'list', '--config', w.config])).stdout, /K1/, 'the right key opens it again');

  // A failed restore left an empty database beside the key: not taken for a new, empty store.
  const db = join(w.dir, 'data', 'radius-otp.db');
  writeFileSync(db, '');
  for (const args of [['token', 'list'], ['serve']]) {
    const empty = await run([...args, '--config', w.config]);
    t.equal(empty.code, 1, args[0]);
    t.match(empty.stderr, /radius-otp\.db is empty \(0 bytes\) while its key file .*data-key exists: a failed copy or restore\?/);
  }
  t.equal(readFileSync(db).length, 0, 'left as it was');
});

t.test('SIGHUP reloads clients without dropping a packet; SIGTERM stops cleanly', async (t) => {
  const w = workspace(CLIENT);
  const s = await serve(w.config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const target = { host: '127.0.0.1', port: s.port };
  const status = await radclient(target, 's1', MA, { command: 'status' });
  t.equal(status.reply, 'Access-Accept');

  const second = '[[client]]\nname = "gw2"\naddress = "127.0.0.2"\nsecret = "s2"\n';
  const before = await radclient(target, 's2', `${MA}, Packet-Src-IP-Address = 127.0.0.2`, { command: 'status', timeout: 1 });
  t.equal(before.reply, null, '127.0.0.2 is not a client yet');

  // A steady stream of Status-Server requests while the config is reloaded: every one answered.
  const client = await UdpClient.open();
  t.teardown(() => client.close());
  w.write(CLIENT + second);
  let answered = 0;
  for (let i = 0; i < 200; i++) {
    if (i === 50) s.child.kill('SIGHUP');
    const packet = encodeAccessRequest({ code: Code.StatusServer, identifier: i & 0xff, authenticator: randomBytes(16), secret: Buffer.from('s1') });
    if ((await client.exchange(packet, target, 5000))?.[0] === Code.AccessAccept) answered++;
  }
  t.equal(answered, 200, 'no packet dropped across the reload');
  const after = await radclient(target, 's2', `${MA}, Packet-Src-IP-Address = 127.0.0.2`, { command: 'status' });
  t.equal(after.reply, 'Access-Accept', 'the new client is served');

  // A broken config on SIGHUP: refused, and the running config stays.
  writeFileSync(w.config, 'this is not toml =');
  s.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  t.match(s.stderr(), /reload refused/);
  t.equal((await radclient(target, 's1', MA, { command: 'status' })).reply, 'Access-Accept');

  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0, 'exit 0 on SIGTERM');
  t.match(s.stderr(), /"message":"stopped"/);
});

t.test("Node's helper threads and the checkpoint thread run at nice 19 under SCHED_IDLE; the event loop and libuv's pool keep the default", async (t) => {
  const w = workspace(CLIENT);
  const s = await serve(w.config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const pid = s.child.pid as number;
  const threads = (): ThreadSched[] => threadsOf(pid);
  const main = (): ThreadSched | undefined => threads().find((th) => th.tid === pid);
  const others = threads().filter((th) => th.tid !== pid);
  t.equal(main()?.nice, 0, 'the event loop');
  // V8's four platform workers, its delayed-task thread and the checkpoint thread at least.
  const helpers = others.filter((th) => th.nice === 19).map((th) => th.tid);
  t.ok(helpers.length >= 6, 'the helpers');
  // serve moves V8's helpers, the checkpoint thread moves itself.
  const policies = (): number[] => helpers.map((tid) => threads().find((th) => th.tid === tid)?.policy ?? -1);
  for (let i = 0; i < 200 && !policies().every((p) => p === SCHED_IDLE); i++) await new Promise((r) => setTimeout(r, 10));
  t.same(policies(), helpers.map(() => SCHED_IDLE), 'every helper under SCHED_IDLE');
  t.equal(main()?.policy, SCHED_OTHER, 'not the event loop');
  // Started after bin/radius-otp's first line: libuv's pool (the entry's module reads), the hash workers.
  t.ok(others.some((th) => th.nice === 0), 'threads the server starts itself');
  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0);
});

t.test('a code accepted once is refused after kill -9 and a restart', async (t) => {
  const w = workspace(CLIENT, '[auth]\nprimary = "none"\n');
  const secretHex = randomBytes(20).toString('hex');
  const { base32Encode } = await import('../../src/tokens/base32.js');
  writeFileSync(join(w.dir, 'tokens.csv'), `serial,secret,interval\nK9,${base32Encode(Buffer.from(secretHex, 'hex'))},30\n`);
  const imported = await run(['import', 'csv', join(w.dir, 'tokens.csv'), '--config', w.config]);
  t.equal(imported.code, 0, imported.stderr);
  t.equal((await run(['user', 'add', 'carol', '--config', w.config])).code, 0);
  t.equal((await run(['token', 'assign', 'K9', 'carol', '--config', w.config])).code, 0);

  const code = totpCode(secretHex, Math.floor(Date.now() / 1000));
  const first = await serve(w.config);
  const ok = await radclient({ host: '127.0.0.1', port: first.port }, 's1', `User-Name = "carol", User-Password = "${code}", NAS-Identifier = "gw", ${MA}`);
  t.equal(ok.reply, 'Access-Accept');
  first.child.kill('SIGKILL');
  await first.exited;

  const second = await serve(w.config);
  t.teardown(() => second.child.kill('SIGKILL'));
  const again = await radclient({ host: '127.0.0.1', port: second.port }, 's1', `User-Name = "carol", User-Password = "${code}", NAS-Identifier = "gw", ${MA}`);
  t.equal(again.reply, 'Access-Reject', 'replay refused after the restart');
});

t.test('a WAL that cannot be synced: no Accept, and serve stops with exit 1 so that the NAS fails over', async (t) => {
  const w = workspace(CLIENT, '[store]\nsynchronous = "full"\n[auth]\nprimary = "none"\n');
  const secretHex = randomBytes(20).toString('hex');
  const { base32Encode } = await import('../../src/tokens/base32.js');
  writeFileSync(join(w.dir, 'tokens.csv'), `serial,secret,interval,upn\nW1,${base32Encode(Buffer.from(secretHex, 'hex'))},30,dave\n`);
  const imported = await run(['import', 'csv', join(w.dir, 'tokens.csv'), '--create-users', '--config', w.config]);
  t.equal(imported.code, 0, imported.stderr);
  const s = await serve(w.config);
  t.teardown(() => s.child.kill('SIGKILL'));
  // Deleted under the running server: SQLite writes on into a file no name leads to, which a
  // restart would not find. Nothing it commits now can be made durable.
  const wal = join(w.dir, 'data', 'radius-otp.db-wal');
  t.ok(existsSync(wal));
  rmSync(wal);
  const code = totpCode(secretHex, Math.floor(Date.now() / 1000));
  const r = await radclient({ host: '127.0.0.1', port: s.port }, 's1', `User-Name = "dave", User-Password = "${code}", NAS-Identifier = "gw", ${MA}`, { timeout: 2, retries: 1 });
  t.not(r.reply, 'Access-Accept', `no Accept for a code whose use is not on disk (${r.reply ?? 'no reply'})`);
  t.equal(await s.exited, 1);
  t.match(s.stderr(), /"message":"store: the WAL could not be synced; no Access-Accept can be made durable: the server stops"/);
  // Which sync meets the deletion first depends on whether the server had opened the WAL to
  // sync it (its mirror loader's first commit) before the test deleted it: either says why.
  t.ok(
    [`radius-otp: stopped: cannot open ${wal} to sync it: ENOENT: no such file or directory, open '${wal}'`, `radius-otp: stopped: cannot sync ${wal}: it was deleted while the server had it open; what is written to it is in no file a restart reads`].includes(lastLine(s.stderr())),
    lastLine(s.stderr()),
  );
});
