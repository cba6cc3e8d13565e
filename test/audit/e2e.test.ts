/**
 * Issue 5 "Done when": a scripted series of RADIUS requests against the built server (each kind
 * of outcome, drops included) gives exactly one audit line per decision with the right fields,
 * `report --format json` counts the same series, and no password, code or secret appears in any
 * log line (stderr, audit file) or CLI output.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { base32Encode } from '../../src/tokens/base32.js';
import { radclient } from '../helpers/radclient.js';
import { run, serve } from '../helpers/process.js';
import { totpCode } from '../helpers/oathtool.js';
import { tempDir } from '../helpers/tmp.js';

const NAS_SECRET = 'nas-Secret-7f3a9c';
const PASSWORD = 'Pa55-word-for-audit';
const TOKEN = randomBytes(20);
const MA = 'Message-Authenticator = 0x00';

t.test('scripted series → audit lines → report; no secret anywhere', async (t) => {
  const dir = tempDir('radius-otp-audit-');
  const config = join(dir, 'radius.conf');
  writeFileSync(
    config,
    `[server]\nname = "audit-test"\nlisten = ["127.0.0.1:0"]\n[log]\nlevel = "debug"\naudit = "logs/audit.log"\n` +
      `[[client]]\nname = "vpn1"\naddress = "127.0.0.1"\nsecret = "${NAS_SECRET}"\n`,
  );
  const cliOutput: string[] = [];
  const cli = async (args: string[], input = ''): Promise<void> => {
    const r = await run([...args, '--config', config], input);
    cliOutput.push(r.stdout, r.stderr);
    t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(join(dir, 'tokens.csv'), `upn,serial number,secret key,time interval,manufacturer,model\nalice,AUD-1,${base32Encode(TOKEN)},30,ACME,K1\n`);
  await cli(['user', 'add', 'alice', '--password-stdin'], `${PASSWORD}\n`);
  await cli(['import', 'csv', join(dir, 'tokens.csv')]);
  const app = await run(['app-password', 'create', 'alice', '--json', '--config', config]);
  const appPassword = (JSON.parse(app.stdout) as { password: string }).password;

  const s = await serve(config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const target = { host: '127.0.0.1', port: s.port };
  // Answered requests get radclient's default 5 s (argon2id on a loaded CI machine took > 1 s);
  // only the drops below wait 1 s.
  const send = (user: string, password: string, extra = '') =>
    radclient(target, NAS_SECRET, `User-Name = "${user}", User-Password = "${password}", NAS-Identifier = "nas-7", Calling-Station-Id = "203.0.113.9", ${MA}${extra}`);

  const now = Math.floor(Date.now() / 1000);
  const hex = TOKEN.toString('hex');
  const c0 = totpCode(hex, now);
  const c1 = totpCode(hex, now + 30);
  const expected: Array<{ result: string; reason?: string; mode: string }> = [];
  const expect = async (p: Promise<{ reply: string | null }>, reply: string | null, e?: (typeof expected)[number]) => {
    t.equal((await p).reply, reply);
    if (e) expected.push(e);
  };
  await expect(send('alice', `${PASSWORD}${c0}`), 'Access-Accept', { result: 'accept', mode: 'password+otp' });
  await expect(send('alice', `${PASSWORD}${c0}`), 'Access-Reject', { result: 'reject', reason: 'replayed-code', mode: 'password+otp' });
  await expect(send('alice', `wrong${c1}`), 'Access-Reject', { result: 'reject', reason: 'wrong-password', mode: 'password+otp' });
  await expect(send('alice', `${PASSWORD}000000`), 'Access-Reject', { result: 'reject', reason: 'wrong-code', mode: 'password+otp' });
  await expect(send('mallory', `${PASSWORD}${c1}`), 'Access-Reject', { result: 'reject', reason: 'unknown-user', mode: 'password+otp' });
  const challenge = await send('alice', PASSWORD);
  t.equal(challenge.reply, 'Access-Challenge');
  expected.push({ result: 'challenge', mode: 'challenge' });
  const state = (challenge as unknown as { attributes: Array<[string, string]> }).attributes.find(([n]) => n === 'State')?.[1];
  await expect(send('alice', c1, `, State = ${state}`), 'Access-Accept', { result: 'accept', mode: 'challenge' });
  await expect(send('alice', appPassword), 'Access-Accept', { result: 'accept', mode: 'app-password' });
  await expect(
    radclient(target, NAS_SECRET, `User-Name = "alice", CHAP-Password = "${PASSWORD}", NAS-Identifier = "nas-7", ${MA}`),
    'Access-Reject',
    { result: 'reject', reason: 'unsupported-method', mode: 'unknown' },
  );
  // Two drops: no Message-Authenticator, and another shared secret.
  await expect(radclient(target, NAS_SECRET, `User-Name = "alice", User-Password = "${PASSWORD}", NAS-Identifier = "nas-7"`, { timeout: 1 }), null);
  await expect(radclient(target, 'wrong-secret', `User-Name = "alice", User-Password = "${PASSWORD}", NAS-Identifier = "nas-7", ${MA}`, { timeout: 1 }), null);

  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0);

  const logDir = join(dir, 'logs');
  const files = readdirSync(logDir).filter((f) => /^audit-\d{4}-\d{2}-\d{2}\.log$/.test(f));
  t.ok(files.length >= 1, 'a dated audit file');
  const lines = files.flatMap((f) => readFileSync(join(logDir, f), 'utf8').split('\n').filter(Boolean));
  const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const decisions = events.filter((e) => e.event === 'decision');
  t.equal(decisions.length, expected.length, 'exactly one line per decision');
  decisions.forEach((d, i) => {
    t.match(d, { ...expected[i], server: 'audit-test', server_ip: '127.0.0.1', client: 'vpn1', client_ip: '127.0.0.1' }, `decision ${i + 1}`);
    t.match(d.time, /^\d{4}-\d{2}-\d{2}T/);
    if (d.result === 'reject') t.ok(d.reason, 'every reject has a reason');
    else t.notOk('reason' in d, 'no reason unless rejected');
    if (d.mode !== 'unknown') t.match(d, { calling_station_id: '203.0.113.9', nas_identifier: 'nas-7' });
  });
  t.match(decisions[0], { user: 'alice', token_serial: 'AUD-1' });
  t.same(
    events.filter((e) => e.event === 'drop').map((e) => e.reason),
    ['ma-missing', 'ma-invalid'],
  );

  const report = await run(['report', '--format', 'json', '--since', '1d', '--config', config]);
  cliOutput.push(report.stdout, report.stderr);
  t.equal(report.code, 0, report.stderr);
  const r = JSON.parse(report.stdout) as { totals: Record<string, number>; denialReasons: Array<{ reason: string; count: number }>; drops: number; appPasswords: Array<{ user: string; accept: number }> };
  t.same(r.totals, { accept: 3, reject: 5, challenge: 1, total: 9 });
  t.same(
    Object.fromEntries(r.denialReasons.map((d) => [d.reason, d.count])),
    { 'replayed-code': 1, 'wrong-password': 1, 'wrong-code': 1, 'unknown-user': 1, 'unsupported-method': 1 },
  );
  t.equal(r.drops, 2);
  t.match(r.appPasswords, [{ user: 'alice', accept: 1 }]);
  const table = await run(['report', '--by', 'user', '--since', '1d', '--config', config]);
  cliOutput.push(table.stdout, table.stderr);
  t.match(table.stdout, /alice/);

  // No secret in any log line or CLI output: the NAS secret, the password, the codes, the app
  // password, and the token secret in hex, Base32 and Base64.
  const haystack = [s.stdout(), s.stderr(), lines.join('\n'), ...cliOutput].join('\n');
  const needles = [NAS_SECRET, PASSWORD, c0, c1, TOKEN.toString('hex'), base32Encode(TOKEN), TOKEN.toString('base64')];
  for (const n of needles) t.notOk(haystack.includes(n), `secret ${n.slice(0, 3)}… never logged or printed`);
  t.notOk([s.stderr(), lines.join('\n')].join('\n').includes(appPassword), 'app password never logged');
  const db = readFileSync(join(dir, 'data', 'radius-otp.db'));
  for (const n of [TOKEN.toString('hex'), base32Encode(TOKEN), TOKEN.toString('base64'), PASSWORD, appPassword]) {
    t.notOk(db.includes(Buffer.from(n)), 'the database holds no secret in the clear');
  }
  t.notOk(db.includes(TOKEN), 'nor the raw token secret');
});

t.test('a flood of drops: the audit lines and their suppressed counts add up, and report counts every drop', async (t) => {
  const dir = tempDir('radius-otp-audit-');
  const config = join(dir, 'radius.conf');
  writeFileSync(
    config,
    `[server]\nlisten = ["127.0.0.1:0"]\n[log]\nlevel = "warn"\naudit = "logs/audit.log"\ndrop_log_per_second = 10\n` +
      `[[client]]\nname = "vpn1"\naddress = "127.0.0.1"\nsecret = "${NAS_SECRET}"\n`,
  );
  const s = await serve(config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const { UdpClient } = await import('../helpers/udp-client.js');
  const { encodeAccessRequest } = await import('../../src/radius/request-encode.js');
  const c = await UdpClient.open();
  t.teardown(() => c.close());
  // 500 requests with a bad Message-Authenticator (another secret), as fast as they go.
  for (let i = 0; i < 500; i++) {
    await c.send(encodeAccessRequest({ identifier: i & 0xff, authenticator: randomBytes(16), secret: Buffer.from('wrong-secret'), userName: 'u', password: 'p', nasIdentifier: 'n' }), { host: '127.0.0.1', port: s.port });
  }
  await new Promise((r) => setTimeout(r, 200));
  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0);
  const logDir = join(dir, 'logs');
  const events = readdirSync(logDir)
    .filter((f) => /^audit-\d{4}-\d{2}-\d{2}\.log$/.test(f))
    .flatMap((f) => readFileSync(join(logDir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as { event: string; reason: string; suppressed?: number });
  const stderr = s
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"dropped packet"'))
    .map((l) => JSON.parse(l) as { suppressed?: number });
  t.ok(events.length < 500, `fewer lines (${events.length}) than drops`);
  t.ok(events.every((e) => e.event === 'drop' && e.reason === 'ma-invalid'));
  t.same(events.map((e) => e.suppressed ?? 0), stderr.map((l) => l.suppressed ?? 0), 'each audit line carries the count of its stderr line');
  t.equal(events.reduce((n, e) => n + 1 + (e.suppressed ?? 0), 0), 500, 'and they add up to every drop');
  const report = await run(['report', '--format', 'json', '--since', '1d', '--config', config]);
  t.equal(report.code, 0, report.stderr);
  const r = JSON.parse(report.stdout) as { drops: number; dropReasons: Array<{ reason: string; count: number }> };
  t.equal(r.drops, 500);
  t.same(r.dropReasons, [{ reason: 'ma-invalid', count: 500 }]);
});
