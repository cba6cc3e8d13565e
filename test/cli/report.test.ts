/**
 * `report` driven in-process through runCli against a real store and audit files in a temp
 * directory: exact counts in every format, the period options, usage errors naming the option.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import yargs from 'yargs';
import { cli as runCli } from '../helpers/cli.js';
import { reportCommand } from '../../src/cli/report.js';
import type { Io } from '../../src/cli/io.js';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers/tmp.js';

interface Run {
  code: number;
  out: string;
  err: string;
  progress: string;
}

async function cli(args: string[], tty = false): Promise<Run> {
  const r = await runCli(args, '', { isTTY: tty });
  return { code: r.code, out: r.stdout, err: r.stderr, progress: r.progress };
}

const line = (time: string, user: string, result: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    event: 'decision',
    time,
    server: 'radius-otp-1',
    server_ip: '127.0.0.1',
    client: 'vpn-gw',
    client_ip: '10.0.0.1',
    user,
    calling_station_id: '',
    nas_identifier: '',
    mode: 'password+otp',
    token_serial: '',
    result,
    ...extra,
  });

function workspace(audit = true): { config: string; dir: string } {
  const dir = tempDir('radius-otp-report-');
  const config = join(dir, 'radius.conf');
  writeFileSync(
    config,
    `[store]\npath = "${join(dir, 'radius-otp.db')}"\nkey_file = "${join(dir, 'master.key')}"\n[log]\naudit = "${audit ? join(dir, 'audit.log') : ''}"\n`,
  );
  writeFileSync(
    join(dir, 'audit-2025-03-10.log'),
    [
      line('2025-03-10T10:00:00.000Z', 'alice', 'accept', { token_serial: 'T1' }),
      line('2025-03-10T10:01:00.000Z', 'alice', 'reject', { reason: 'wrong-code' }),
      line('2025-03-10T11:00:00.000Z', 'bob', 'challenge'),
      'garbage',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'audit-2025-03-11.log'),
    [
      line('2025-03-11T09:00:00.000Z', 'carol', 'reject', { reason: 'locked' }),
      line('2025-03-11T09:30:00.000Z', 'dave', 'accept', { mode: 'app-password' }),
      JSON.stringify({ event: 'drop', time: '2025-03-11T09:40:00.000Z', server: 's', server_ip: '', client: '', client_ip: '10.9.9.9', reason: 'unknown-client' }),
      '',
    ].join('\n'),
  );
  // the report reads the store's tokens for the unused-token section
  const store = openStore({ store: { path: join(dir, 'radius-otp.db'), key_file: join(dir, 'master.key') } }, () => {});
  const token = (serial: string, user: string) => ({
    serial,
    type: 'totp' as const,
    algorithm: 'SHA1' as const,
    digits: 6 as const,
    period: 30,
    t0: 0,
    counter: 0,
    drift: 0,
    secret: Buffer.alloc(20, 7),
    user,
  });
  store.tokens.importMany([token('T1', 'alice'), token('T2', 'bob'), token('T3', 'carol')], { replace: false, createUsers: true });
  // T3 was last used before the period
  store.tokens.commitTotp(store.tokens.get('T3')!.id, 1, 0, Date.parse('2025-02-01T00:00:00Z') / 1000);
  store.close();
  return { config, dir };
}

const PERIOD = ['--since', '2025-03-10', '--until', '2025-03-12T00:00'];

t.test('json: exact counts, and --json is the same as --format json', async (t) => {
  const { config } = workspace();
  const r = await cli(['report', '--config', config, ...PERIOD, '--format', 'json']);
  t.equal(r.code, 0, r.err);
  t.equal(r.err, '');
  const report = JSON.parse(r.out);
  t.match(report, {
    period: { since: '2025-03-10T00:00:00.000Z', until: '2025-03-12T00:00:00.000Z' },
    by: 'result',
    files: 2,
    lines: 7,
    malformed: 1,
    decisions: 5,
    drops: 1,
    totals: { accept: 2, reject: 2, challenge: 1, total: 5 },
    lockedUsers: [{ user: 'carol', count: 1 }],
    appPasswords: [{ user: 'dave', accept: 1, total: 1 }],
    dropReasons: [{ reason: 'unknown-client', count: 1 }],
  });
  t.same(report.groups.map((g: { key: string; total: number }) => [g.key, g.total]), [['accept', 2], ['reject', 2], ['challenge', 1]]);
  t.same(report.denialReasons, [
    { reason: 'locked', count: 1 },
    { reason: 'wrong-code', count: 1 },
  ]);
  t.same(report.unusedTokens, [
    { serial: 'T2', user: 'bob', lastUsedAt: null, status: 'never-used' },
    { serial: 'T3', user: 'carol', lastUsedAt: '2025-02-01T00:00:00.000Z', status: 'not-used-in-period' },
  ]);
  const viaGlobal = await cli(['report', '--config', config, ...PERIOD, '--json']);
  t.equal(viaGlobal.out, r.out);
});

t.test('csv by user and table by day', async (t) => {
  const { config } = workspace();
  const csv = await cli(['report', '--config', config, ...PERIOD, '--by', 'user', '--format', 'csv']);
  t.equal(csv.code, 0);
  const rows = csv.out.trim().split('\n');
  t.equal(rows[0], 'section,key,user,accept,reject,challenge,total,count,last,status');
  t.same(
    rows.filter((r) => r.startsWith('by-user,') || r.startsWith('total,')),
    ['by-user,alice,,1,1,0,2,,,', 'by-user,bob,,0,0,1,1,,,', 'by-user,carol,,0,1,0,1,,,', 'by-user,dave,,1,0,0,1,,,', 'total,,,2,2,1,5,,,'],
  );
  const table = await cli(['report', '--config', config, ...PERIOD, '--by', 'day']);
  t.equal(table.code, 0);
  t.match(table.out, /By day\nday         accept  reject  challenge  total\n2025-03-10       1       1          1      3\n2025-03-11       1       1          0      2\ntotal            2       2          1      5\n/);
  t.match(table.out, /1 malformed line\(s\) skipped/);
});

t.test('default period: the last 7 days up to now', async (t) => {
  const { config, dir } = workspace();
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  writeFileSync(join(dir, `audit-${hourAgo.slice(0, 10)}.log`), `${line(hourAgo, 'erin', 'accept', { token_serial: 'T2' })}\n`, { flag: 'a' });
  const r = await cli(['report', '--config', config, '--json']);
  t.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out);
  t.same(report.totals, { accept: 1, reject: 0, challenge: 0, total: 1 }, 'the 2025-03 lines are outside');
  t.ok(report.unusedTokens.every((u: { serial: string }) => u.serial !== 'T2'), 'T2 used in the period');
  const rel = await cli(['report', '--config', config, '--since', '2h', '--until', '30m', '--json']);
  t.equal(JSON.parse(rel.out).totals.total, 1);
});

t.test('a progress bar on a terminal only', async (t) => {
  const { config } = workspace();
  const tty = await cli(['report', '--config', config, ...PERIOD], true);
  t.equal(tty.code, 0);
  t.match(tty.progress, /reading audit log/);
  t.match(tty.out, /^Audit report /);
  const pipe = await cli(['report', '--config', config, ...PERIOD]);
  t.equal(pipe.progress, '');
  // on a terminal with nothing to read, no bar is started
  const empty = await cli(['report', '--config', config, '--since', '2020-01-01', '--until', '2020-01-02'], true);
  t.equal(empty.code, 0);
  t.equal(empty.progress, '');
});

t.test('usage errors name the option and exit 2; a disabled audit log exits 1', async (t) => {
  const { config } = workspace();
  const since = await cli(['report', '--config', config, '--since', 'yesterday']);
  t.equal(since.code, 2);
  t.match(since.err, /^radius-otp: --since: "yesterday" is not a date/);
  t.equal(since.out, '');
  const until = await cli(['report', '--config', config, '--until', '2026-02-30']);
  t.equal(until.code, 2);
  t.match(until.err, /--until: "2026-02-30"/);
  const order = await cli(['report', '--config', config, '--since', '2025-03-12', '--until', '2025-03-11']);
  t.equal(order.code, 2);
  t.match(order.err, /--since: .* is not before --until/);
  const by = await cli(['report', '--config', config, '--by', 'nas']);
  t.equal(by.code, 2);
  t.match(by.err, /by/);
  const format = await cli(['report', '--config', config, '--format', 'xml']);
  t.equal(format.code, 2);
  const off = await cli(['report', '--config', workspace(false).config]);
  t.equal(off.code, 1);
  t.match(off.err, /audit log is disabled/);
});

t.test('relative times count back from the clock the command is given', async (t) => {
  const { config } = workspace();
  let out = '';
  const io: Io = { stdout: (s) => void (out += s), stderr: () => {}, readStdin: async () => '', isTTY: false };
  const now = new Date('2025-03-11T09:35:00.000Z');
  await yargs(['report', '--config', config, '--since', '40m', '--json'])
    .option('config', { type: 'string' })
    .option('json', { type: 'boolean' })
    .command(reportCommand(io, { now: () => now }))
    .strict()
    .exitProcess(false)
    .parseAsync();
  const report = JSON.parse(out);
  t.same(report.period, { since: '2025-03-11T08:55:00.000Z', until: '2025-03-11T09:35:00.000Z' });
  t.same(report.totals, { accept: 1, reject: 1, challenge: 0, total: 2 });
});

t.test('bad values are one line naming the option: a signed time ago, a value yargs took for an option, --by', async (t) => {
  const { config } = workspace();
  const signed = await cli(['report', '--config', config, '--since', '-5d']);
  t.equal(signed.code, 2);
  t.equal(signed.err, 'radius-otp: --since: "-5d": a time ago is written without a sign: --since 5d\n');
  const dash = await cli(['report', '--config', config, '--until', '-d']);
  t.equal(dash.code, 2);
  t.equal(dash.err, 'radius-otp: --until needs a value (one that starts with "-" is given as --option=value)\n');
  for (const [option, value, allowed] of [
    ['--by', 'foo', '"result", "user", "day", "client"'],
    ['--format', 'xml', '"table", "csv", "json"'],
  ]) {
    const r = await cli(['report', '--config', config, option as string, value as string]);
    t.equal(r.code, 2);
    t.equal(r.err, `radius-otp: Invalid values: ${option}: "${value}" is not one of ${allowed}\n`);
  }
  t.equal(dash.out + signed.out, '');
});

t.test('an audit directory that does not exist exits 1 naming log.audit, its line and path; an empty one is an empty report', async (t) => {
  const { mkdirSync, readFileSync } = await import('node:fs');
  const { config, dir } = workspace();
  const missing = join(dir, 'missing', 'audit.log');
  writeFileSync(config, readFileSync(config, 'utf8').replace(join(dir, 'audit.log'), missing));
  const r = await cli(['report', '--config', config, ...PERIOD]);
  t.equal(r.code, 1);
  t.equal(r.out, '');
  t.equal(r.err, `radius-otp: ${config}:5: log.audit: ${missing}: the directory ${join(dir, 'missing')} does not exist\n`);
  writeFileSync(join(dir, 'missing'), 'a file, not a directory');
  const file = await cli(['report', '--config', config, ...PERIOD]);
  t.equal(file.code, 1);
  t.equal(file.err, r.err, 'a file where the directory should be: the same line, no raw ENOTDIR');
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'missing'));
  mkdirSync(join(dir, 'missing'));
  const empty = await cli(['report', '--config', config, ...PERIOD, '--json']);
  t.equal(empty.code, 0, empty.err);
  t.match(JSON.parse(empty.out), { files: 0, decisions: 0, totals: { total: 0 } });
});

t.test('a report creates no store and no key file where there is none (read-only)', async (t) => {
  const { readdirSync } = await import('node:fs');
  const { readFileSync } = await import('node:fs');
  const { config, dir } = workspace();
  // The store of this config is one that does not exist yet.
  writeFileSync(config, readFileSync(config, 'utf8').replaceAll(`${dir}/radius-otp.db`, `${dir}/none/radius-otp.db`).replaceAll(`${dir}/master.key`, `${dir}/none/master.key`));
  const before = readdirSync(dir).sort();
  const r = await cli(['report', '--config', config, ...PERIOD, '--json']);
  t.equal(r.code, 0, r.err);
  t.match(JSON.parse(r.out), { decisions: 5, unusedTokens: [] });
  t.same(readdirSync(dir).sort(), before, 'no none/ directory: no database, no key file');
});
