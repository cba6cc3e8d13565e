import t from 'tap';
import fc from 'fast-check';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listAuditFiles } from '../../src/audit/files.js';
import { compareText, ReportBuilder } from '../../src/audit/report/aggregate.js';
import type { Report } from '../../src/audit/report/aggregate.js';
import { renderCsv, renderJson, renderReport, renderTable } from '../../src/audit/report/format.js';
import { parsePeriod, parseTime, PeriodError } from '../../src/audit/report/period.js';
import { MAX_LINE, readLines } from '../../src/audit/report/reader.js';
import { buildReport } from '../../src/audit/report/run.js';

// A small audit log whose every count is known.

type Ev = Record<string, unknown>;

const d = (time: string, user: string, client: string, mode: string, result: string, extra: Ev = {}): Ev => ({
  event: 'decision',
  time,
  server: 'radius-otp-1',
  server_ip: '127.0.0.1',
  client,
  client_ip: '10.0.0.1',
  user,
  calling_station_id: '',
  nas_identifier: '',
  mode,
  token_serial: '',
  result,
  ...extra,
});
const drop = (time: string, reason: string, client = ''): Ev => ({ event: 'drop', time, server: 's', server_ip: '127.0.0.1', client, client_ip: '10.9.9.9', reason });
const j = (e: Ev): string => JSON.stringify(e);

const NOW = new Date('2026-11-22T12:00:00.000Z');
const SINCE = new Date('2026-11-20T00:00:00.000Z');

function writeFixture(dir: string): string {
  const file = join(dir, 'audit.log');
  writeFileSync(
    join(dir, 'audit-2026-11-20.log'),
    [
      j(d('2026-11-20T10:00:00.000Z', 'alice', 'vpn-gw', 'password+otp', 'accept', { token_serial: 'T1' })),
      j(d('2026-11-20T10:01:00.000Z', 'alice', 'vpn-gw', 'password+otp', 'reject', { token_serial: 'T1', reason: 'wrong-code' })),
      j(d('2026-11-20T11:00:00.000Z', 'bob', 'wifi', 'challenge', 'challenge')),
      j(d('2026-11-20T11:01:00.000Z', 'bob', 'wifi', 'challenge', 'accept', { token_serial: 'T2' })),
      j(d('2026-11-20T12:00:00.000Z', 'carol', 'vpn-gw', 'password+otp', 'reject', { token_serial: 'T3', reason: 'locked' })),
      '',
      j(drop('2026-11-20T12:30:00.000Z', 'ma-invalid', 'vpn-gw')),
      'not json',
      '{"event":"decision","time":"2026-11-20T13:00:00.000Z","result":"maybe"}',
      // no user, no client, no client_ip, no reason
      '{"event":"decision","time":"2026-11-20T14:00:00.000Z","mode":"password","result":"reject"}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'audit-2026-11-21.log'),
    [
      j(d('2026-11-21T09:00:00.000Z', 'carol', 'vpn-gw', 'password+otp', 'reject', { reason: 'locked' })),
      j(d('2026-11-21T09:30:00.000Z', 'dave', 'mail', 'app-password', 'accept')),
      j(d('2026-11-21T09:31:00.000Z', 'dave', 'mail', 'app-password', 'reject', { reason: 'wrong-password' })),
      j(drop('2026-11-21T09:40:00.000Z', 'unknown-client')),
      '{"event":"drop","time":"2026-11-21T10:00:00.000Z"}',
      '{"event":"decision","time":"yesterday","result":"accept"}',
      '[]',
      'null',
      // a time in another ISO form, and a CRLF line ending
      `${j(d('2026-11-21T11:00:00+00:00', 'alice', 'vpn-gw', 'password+otp', 'accept', { token_serial: 'TX' }))}\r`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'audit-2026-11-22.log'),
    [
      j(d('2026-11-22T11:59:59.999Z', 'alice', 'vpn-gw', 'password+otp', 'accept', { token_serial: 'T1' })),
      j(d('2026-11-22T12:00:00.000Z', 'alice', 'vpn-gw', 'password+otp', 'accept', { token_serial: 'T4' })), // until: excluded
      // the last line has no newline (a file copied mid-write)
      j(d('2026-11-22T08:00:00Z', 'bob', 'wifi', 'challenge', 'reject', { reason: 'wrong-code' })),
    ].join('\n'),
  );
  // a file far outside the period is not even read
  writeFileSync(join(dir, 'audit-2026-10-01.log'), `${j(d('2026-11-21T00:00:00.000Z', 'zed', 'x', 'otp', 'accept'))}\n`);
  // names that look alike but are not this log's
  writeFileSync(join(dir, 'audit-2026-11-21.log.gz'), 'x');
  writeFileSync(join(dir, 'other-2026-11-21.log'), 'x');
  return file;
}

/** The undated configured file as a regular file (a log from before rotation). */
function writeUndated(file: string): void {
  writeFileSync(
    file,
    [
      j(d('2026-11-19T23:59:59.999Z', 'eve', '', 'password+otp', 'accept')), // before since
      j(d('2026-11-20T00:00:00.000Z', 'eve', '', 'password+otp', 'reject', { reason: 'unknown-user', client_ip: '10.1.1.1' })),
      '',
    ].join('\n'),
  );
}

/** The usual layout: audit.log is a link to today's file, and must not be counted twice. */
function linkCurrent(file: string): void {
  symlinkSync('audit-2026-11-22.log', file);
}

const sec = (iso: string): number => Date.parse(iso) / 1000;
const TOKENS = [
  { serial: 'T1', user: 'alice', lastUsedAt: null }, // used in the log
  { serial: 'T2', user: 'bob', lastUsedAt: sec('2026-11-01T00:00:00Z') }, // used in the log
  { serial: 'T3', user: 'carol', lastUsedAt: null }, // only a reject: never used
  { serial: 'T4', user: 'dave', lastUsedAt: sec('2026-11-01T00:00:00Z') }, // accepted only at until
  { serial: 'T5', user: null, lastUsedAt: sec('2026-11-21T00:00:00Z') }, // used in the period by the store's record
  { serial: 'T6', user: 'frank', lastUsedAt: sec('2026-11-22T12:00:00Z') }, // after the period
  { serial: 'T7', user: null, lastUsedAt: null }, // in stock (assigned to nobody): not listed as unused
];

function run(dir: string, by: Report['by'], file = join(dir, 'audit.log')): Promise<Report> {
  return buildReport({ file, since: SINCE, until: NOW, by, tokens: TOKENS });
}

t.test('known log → exact counts (json), grouped by user', async (t) => {
  const dir = t.testdir();
  const file = writeFixture(dir);
  writeUndated(file);
  const progress: Array<[number, number]> = [];
  const r = await buildReport({ file, since: SINCE, until: NOW, by: 'user', tokens: TOKENS, onProgress: (a, b) => progress.push([a, b]) });
  t.same(r.period, { since: '2026-11-20T00:00:00.000Z', until: '2026-11-22T12:00:00.000Z' });
  t.equal(r.files, 4, 'three dated files in range and the undated one; 2026-10-01 not read');
  t.equal(r.lines, 23);
  t.equal(r.malformed, 6);
  t.equal(r.decisions, 13);
  t.equal(r.drops, 2);
  t.same(r.groups, [
    { key: 'alice', accept: 3, reject: 1, challenge: 0, total: 4 },
    { key: 'bob', accept: 1, reject: 1, challenge: 1, total: 3 },
    { key: 'carol', accept: 0, reject: 2, challenge: 0, total: 2 },
    { key: 'dave', accept: 1, reject: 1, challenge: 0, total: 2 },
    { key: '', accept: 0, reject: 1, challenge: 0, total: 1 },
    { key: 'eve', accept: 0, reject: 1, challenge: 0, total: 1 },
  ]);
  t.same(r.totals, { accept: 5, reject: 7, challenge: 1, total: 13 });
  t.same(r.denialReasons, [
    { reason: 'locked', count: 2 },
    { reason: 'wrong-code', count: 2 },
    { reason: '(none)', count: 1 },
    { reason: 'unknown-user', count: 1 },
    { reason: 'wrong-password', count: 1 },
  ]);
  t.same(r.lockedUsers, [{ user: 'carol', count: 2, last: '2026-11-21T09:00:00.000Z' }]);
  t.same(r.appPasswords, [{ user: 'dave', accept: 1, reject: 1, challenge: 0, total: 2, last: '2026-11-21T09:31:00.000Z' }]);
  t.same(r.dropReasons, [
    { reason: 'ma-invalid', count: 1 },
    { reason: 'unknown-client', count: 1 },
  ]);
  t.same(r.unusedTokens, [
    { serial: 'T3', user: 'carol', lastUsedAt: null, status: 'never-used' },
    { serial: 'T4', user: 'dave', lastUsedAt: '2026-11-01T00:00:00.000Z', status: 'not-used-in-period' },
    { serial: 'T6', user: 'frank', lastUsedAt: '2026-11-22T12:00:00.000Z', status: 'not-used-in-period' },
  ]);
  const last = progress[progress.length - 1]!;
  t.equal(last[0], last[1], 'progress ends at the total');
  t.same(JSON.parse(renderJson(r)), r, 'json is the report');
  t.equal(renderReport(r, 'json'), renderJson(r));
});

t.test('by client, day and result', async (t) => {
  const dir = t.testdir();
  writeUndated(writeFixture(dir));
  t.same((await run(dir, 'client')).groups, [
    { key: 'vpn-gw', accept: 3, reject: 3, challenge: 0, total: 6 },
    { key: 'wifi', accept: 1, reject: 1, challenge: 1, total: 3 },
    { key: 'mail', accept: 1, reject: 1, challenge: 0, total: 2 },
    { key: '', accept: 0, reject: 1, challenge: 0, total: 1 },
    { key: '10.1.1.1', accept: 0, reject: 1, challenge: 0, total: 1 },
  ]);
  t.same((await run(dir, 'day')).groups, [
    { key: '2026-11-20', accept: 2, reject: 4, challenge: 1, total: 7 },
    { key: '2026-11-21', accept: 2, reject: 2, challenge: 0, total: 4 },
    { key: '2026-11-22', accept: 1, reject: 1, challenge: 0, total: 2 },
  ]);
  t.same((await run(dir, 'result')).groups, [
    { key: 'accept', accept: 5, reject: 0, challenge: 0, total: 5 },
    { key: 'reject', accept: 0, reject: 7, challenge: 0, total: 7 },
    { key: 'challenge', accept: 0, reject: 0, challenge: 1, total: 1 },
  ]);
});

t.test('audit.log as the link to today is not read twice', async (t) => {
  const dir = t.testdir();
  const file = writeFixture(dir);
  linkCurrent(file);
  const r = await run(dir, 'result');
  t.equal(r.files, 3);
  t.equal(r.lines, 21);
  t.equal(r.decisions, 12);
});

t.test('period filtering: a narrower window and files outside it', async (t) => {
  const dir = t.testdir();
  const file = writeFixture(dir);
  const r = await buildReport({ file, since: new Date('2026-11-21T09:30:00.000Z'), until: new Date('2026-11-21T09:31:00.000Z'), by: 'user' });
  t.same(r.groups, [{ key: 'dave', accept: 1, reject: 0, challenge: 0, total: 1 }]);
  t.equal(r.files, 3, 'the day before and after are read too (a line can sit in the neighbouring file)');
  t.same(r.unusedTokens, [], 'no tokens given');
  const none = await buildReport({ file, since: new Date('2025-01-01T00:00:00Z'), until: new Date('2025-02-01T00:00:00Z'), by: 'user' });
  t.equal(none.files, 0);
  t.equal(none.decisions, 0);
});

t.test('csv: one table, exact rows', async (t) => {
  const dir = t.testdir();
  writeUndated(writeFixture(dir));
  const r = await run(dir, 'user');
  t.equal(
    renderCsv(r),
    [
      'section,key,user,accept,reject,challenge,total,count,last,status',
      'summary,since,,,,,,,2026-11-20T00:00:00.000Z,',
      'summary,until,,,,,,,2026-11-22T12:00:00.000Z,',
      'summary,files,,,,,,4,,',
      'summary,lines,,,,,,23,,',
      'summary,malformed,,,,,,6,,',
      'summary,decisions,,,,,,13,,',
      'summary,drops,,,,,,2,,',
      'by-user,alice,,3,1,0,4,,,',
      'by-user,bob,,1,1,1,3,,,',
      'by-user,carol,,0,2,0,2,,,',
      'by-user,dave,,1,1,0,2,,,',
      'by-user,,,0,1,0,1,,,',
      'by-user,eve,,0,1,0,1,,,',
      'total,,,5,7,1,13,,,',
      'denial-reason,locked,,,,,,2,,',
      'denial-reason,wrong-code,,,,,,2,,',
      'denial-reason,(none),,,,,,1,,',
      'denial-reason,unknown-user,,,,,,1,,',
      'denial-reason,wrong-password,,,,,,1,,',
      'locked,carol,carol,,,,,2,2026-11-21T09:00:00.000Z,',
      'app-password,dave,dave,1,1,0,2,,2026-11-21T09:31:00.000Z,',
      'drop,ma-invalid,,,,,,1,,',
      'drop,unknown-client,,,,,,1,,',
      'unused-token,T3,carol,,,,,,,never-used',
      'unused-token,T4,dave,,,,,,2026-11-01T00:00:00.000Z,not-used-in-period',
      'unused-token,T6,frank,,,,,,2026-11-22T12:00:00.000Z,not-used-in-period',
      '',
    ].join('\n'),
  );
  t.equal(renderReport(r, 'csv'), renderCsv(r));
});

t.test('table: sections with aligned counts', async (t) => {
  const dir = t.testdir();
  writeUndated(writeFixture(dir));
  const text = renderTable(await run(dir, 'user'));
  t.equal(renderReport(await run(dir, 'user'), 'table'), text);
  const lines = text.split('\n');
  t.equal(lines[0], 'Audit report 2026-11-20T00:00:00.000Z – 2026-11-22T12:00:00.000Z');
  t.equal(lines[1], '4 file(s), 23 line(s), 13 decision(s) and 2 drop(s) in the period, 6 malformed line(s) skipped');
  const at = lines.indexOf('By user');
  t.same(lines.slice(at, at + 9), [
    'By user',
    'user    accept  reject  challenge  total',
    'alice        3       1          0      4',
    'bob          1       1          1      3',
    'carol        0       2          0      2',
    'dave         1       1          0      2',
    '(none)       0       1          0      1',
    'eve          0       1          0      1',
    'total        5       7          1     13',
  ]);
  const reasons = lines.indexOf('Top denial reasons');
  t.same(lines.slice(reasons, reasons + 3), ['Top denial reasons', 'reason          count', 'locked              2']);
  t.match(text, /Users locked out\nuser   rejects  last\ncarol        2  2026-11-21T09:00:00.000Z\n/);
  t.match(text, /App-password use\nuser  accept  reject  total  last\ndave       1       1      2  2026-11-21T09:31:00.000Z\n/);
  t.match(text, /Drops\nreason          count\nma-invalid          1\nunknown-client      1\n/);
  t.match(text, /Unused tokens\nserial  user   last used                 status\nT3      carol  never                     never-used\n/);
});

t.test('empty report: every section says (none)', async (t) => {
  const r = new ReportBuilder(SINCE, NOW, 'user').result(0);
  const text = renderTable(r);
  t.equal(text.match(/ {2}\(none\)/g)?.length, 6);
  t.notMatch(text, /malformed/);
  t.match(renderCsv(r), /\ntotal,,,0,0,0,0,,,\n$/);
});

t.test('names from the network cannot inject into a terminal or a spreadsheet', async (t) => {
  const b = new ReportBuilder(SINCE, NOW, 'user', [{ serial: '+T', user: 'x', lastUsedAt: null }]);
  for (const user of ['=HYPERLINK("x")', 'a,b"c', '\u001b[31mred', '-1+1', '@sum', 'plain'])
    b.line(j(d('2026-11-21T00:00:00.000Z', user, 'c', 'otp', 'accept')));
  const r = b.result(1);
  const csv = renderCsv(r);
  t.match(csv, /\nby-user,"'=HYPERLINK\(""x""\)",,1,0,0,1,,,\n/);
  t.match(csv, /\nby-user,"a,b""c",,1,0,0,1,,,\n/);
  t.match(csv, /\nby-user,\?\[31mred,,1,0,0,1,,,\n/);
  t.match(csv, /\nby-user,'-1\+1,/);
  t.match(csv, /\nby-user,'@sum,/);
  t.match(csv, /\nunused-token,'\+T,x,,,,,,,never-used\n/);
  const table = renderTable(r);
  t.notMatch(table, /\u001b/);
  t.match(table, /\?\[31mred/);
  t.match(table, /\+T {6}x /);
});

t.test('a drop line counts for itself and the drops it says were suppressed before it', async (t) => {
  const b = new ReportBuilder(SINCE, NOW, 'user');
  b.line(j(drop('2026-11-21T10:00:00.000Z', 'ma-invalid', 'gw')));
  b.line(j({ ...drop('2026-11-21T10:00:01.000Z', 'ma-invalid', 'gw'), suppressed: 489 }));
  b.line(j({ ...drop('2026-11-21T10:00:02.000Z', 'unknown-client'), suppressed: 12 }));
  b.line(j({ ...drop('2026-11-19T10:00:00.000Z', 'unknown-client'), suppressed: 7 })); // before the period
  for (const bad of [-1, 1.5, '3', null, 2 ** 53]) b.line(j({ ...drop('2026-11-21T10:00:03.000Z', 'ma-invalid'), suppressed: bad }));
  const r = b.result(1);
  t.equal(r.drops, 504, '1 + (1 + 489) + (1 + 12)');
  t.same(r.dropReasons, [
    { reason: 'ma-invalid', count: 491 },
    { reason: 'unknown-client', count: 13 },
  ]);
  t.equal(r.malformed, 5, 'a suppressed count that is not a count makes the line malformed');
  t.match(renderTable(r), /504 drop\(s\) in the period/);
});

t.test('builder: later lines move "last" forward, earlier ones do not', async (t) => {
  const b = new ReportBuilder(SINCE, NOW, 'user', [
    { serial: 'B', user: 'b', lastUsedAt: null },
    { serial: 'A', user: 'a', lastUsedAt: null },
  ]);
  for (const time of ['2026-11-21T10:00:00.000Z', '2026-11-21T12:00:00.000Z', '2026-11-21T11:00:00.000Z']) {
    b.line(j(d(time, 'carol', 'c', 'password+otp', 'reject', { reason: 'locked' })));
    b.line(j(d(time, 'dave', 'c', 'app-password', 'accept')));
  }
  b.line(j(d('2026-11-21T13:00:00.000Z', 'erin', 'c', 'app-password', 'accept')));
  b.line(j(d('2026-11-21T13:00:00.000Z', 'cleo', 'c', 'app-password', 'reject', { reason: 'wrong-password' })));
  b.line(j(d('2026-11-21T13:00:00.000Z', 'bob', 'c', 'password+otp', 'reject', { reason: 'locked' })));
  b.line(j(d('2026-11-21T13:00:00.000Z', 'alice', 'c', 'password+otp', 'reject', { reason: 'locked' })));
  b.line(j({ event: 'decision', time: '2026-11-21T13:00:00.000Z', user: 5, result: 'accept', mode: 'otp', token_serial: 7 }));
  b.tooLong();
  const r = b.result(1);
  t.same(r.lockedUsers, [
    { user: 'carol', count: 3, last: '2026-11-21T12:00:00.000Z' },
    { user: 'alice', count: 1, last: '2026-11-21T13:00:00.000Z' },
    { user: 'bob', count: 1, last: '2026-11-21T13:00:00.000Z' },
  ]);
  t.same(r.appPasswords.map((a) => [a.user, a.total, a.last]), [
    ['dave', 3, '2026-11-21T12:00:00.000Z'],
    ['cleo', 1, '2026-11-21T13:00:00.000Z'],
    ['erin', 1, '2026-11-21T13:00:00.000Z'],
  ]);
  t.equal(r.lines, 12);
  t.equal(r.malformed, 1);
  t.same(r.unusedTokens.map((u) => u.serial), ['A', 'B'], 'ties by serial');
  t.equal(compareText('a', 'a'), 0);
  t.same(r.groups.find((g) => g.key === ''), { key: '', accept: 1, reject: 0, challenge: 0, total: 1 }, 'a non-string user counts as none');
});

t.test('relative and absolute times with a fixed clock', async (t) => {
  const ago = (ms: number) => new Date(NOW.getTime() - ms);
  t.same(parseTime('7d', NOW, '--since'), ago(7 * 86_400_000));
  t.same(parseTime(' 12h ', NOW, '--since'), ago(12 * 3_600_000));
  t.same(parseTime('30m', NOW, '--since'), ago(30 * 60_000));
  t.same(parseTime('45s', NOW, '--since'), ago(45_000));
  t.same(parseTime('2w', NOW, '--since'), ago(14 * 86_400_000));
  t.same(parseTime('0d', NOW, '--until'), NOW);
  t.same(parseTime('now', NOW, '--until'), NOW);
  t.not(parseTime('now', NOW, '--until'), NOW, 'a copy, not the clock itself');
  t.same(parseTime('2026-11-20', NOW, '--since'), new Date('2026-11-20T00:00:00Z'));
  t.same(parseTime('2024-02-29', NOW, '--since'), new Date('2024-02-29T00:00:00Z'));
  t.same(parseTime('2026-11-20T08:00', NOW, '--since'), new Date('2026-11-20T08:00:00Z'), 'no offset: UTC');
  t.same(parseTime('2026-11-20 08:00:30', NOW, '--since'), new Date('2026-11-20T08:00:30Z'));
  t.same(parseTime('2026-11-20T08:00:00.5Z', NOW, '--since'), new Date('2026-11-20T08:00:00.500Z'));
  t.same(parseTime('2026-11-20T08:00:00+01:00', NOW, '--since'), new Date('2026-11-20T07:00:00Z'));
  t.same(parseTime('2026-11-20T08:00-0130', NOW, '--since'), new Date('2026-11-20T09:30:00Z'));
  for (const bad of ['yesterday', '', '7y', '7', 'd7', '2026-02-30', '2023-02-29', '2026-13-01', '2026-00-10', '2026-11-00', '2026-11-20T24:00', '2026-11-20T23:60', '2026-11-20T23:59:60', '2026-11-20T10:00+25:00', '20261120']) {
    t.throws(() => parseTime(bad, NOW, '--since'), { name: 'PeriodError', option: '--since', message: new RegExp(`^--since: "${bad.replace(/[+]/g, '\\+')}" is not a date`) }, bad);
  }
});

t.test('a time ago with a sign is refused, saying how to write it', async (t) => {
  t.throws(() => parseTime('-5d', NOW, '--since'), { name: 'PeriodError', option: '--since', message: '--since: "-5d": a time ago is written without a sign: --since 5d' });
  t.throws(() => parseTime(' +12h', NOW, '--until'), { option: '--until', message: '--until: " +12h": a time ago is written without a sign: --until 12h' });
  t.throws(() => parseTime('-5y', NOW, '--since'), { message: /^--since: "-5y" is not a date/ }, 'no time ago even without the sign');
});

t.test('period: defaults, bounds, errors naming the option', async (t) => {
  t.same(parsePeriod({ now: NOW }), { since: new Date('2026-11-15T12:00:00Z'), until: NOW });
  t.same(parsePeriod({ since: '1d', until: '12h', now: NOW }), { since: new Date('2026-11-21T12:00:00Z'), until: new Date('2026-11-22T00:00:00Z') });
  t.throws(() => parsePeriod({ since: '1h', until: '2h', now: NOW }), { option: '--since', message: /is not before --until/ });
  t.throws(() => parsePeriod({ since: 'now', now: NOW }), { option: '--since' });
  t.throws(() => parsePeriod({ until: 'soon', now: NOW }), { option: '--until', message: /^--until: "soon"/ });
  t.ok(new PeriodError('--until', 'x') instanceof Error);
});

async function collect(files: string[], chunkSize?: number): Promise<{ lines: string[]; tooLong: number }> {
  const lines: string[] = [];
  let tooLong = 0;
  const list = files.map((path) => ({ path, date: null, size: 0 }));
  await readLines(list, { line: (l) => lines.push(l), tooLong: () => tooLong++ }, undefined, chunkSize);
  return { lines, tooLong };
}

t.test('reader: any text, any chunk size → the same lines', async (t) => {
  const dir = t.testdir();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 20 }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 1, max: 64 }),
      async (lines, crlf, finalNewline, chunk) => {
        const path = join(dir, `f${n++}`);
        const eol = crlf ? '\r\n' : '\n';
        writeFileSync(path, lines.join(eol) + (finalNewline && lines.length > 0 ? eol : ''));
        const got = await collect([path], chunk);
        t.same(got.lines, lines.filter((l) => l !== ''));
        t.equal(got.tooLong, 0);
      },
    ),
    { numRuns: 200 },
  );
});

t.test('reader: lines over the limit are skipped, the rest read', async (t) => {
  const dir = t.testdir();
  const big = 'x'.repeat(MAX_LINE + 1);
  const huge = 'y'.repeat(MAX_LINE * 3);
  const path = join(dir, 'a');
  writeFileSync(path, `${big}\nok1\n${huge}\nok2\n${'z'.repeat(MAX_LINE - 10)}\n${big}`);
  for (const chunk of [undefined, 40_000, MAX_LINE - 5]) {
    const got = await collect([path], chunk);
    t.same(got.lines, ['ok1', 'ok2', 'z'.repeat(MAX_LINE - 10)], `chunk ${chunk}`);
    t.equal(got.tooLong, 3);
  }
  // several files in a row; a file that does not end in a newline does not join the next
  const p2 = join(dir, 'b');
  writeFileSync(p2, 'b1\nb2');
  t.same((await collect([p2, p2])).lines, ['b1', 'b2', 'b1', 'b2']);
});

t.test('listAuditFiles: naming and what is skipped', async (t) => {
  const dir = t.testdir();
  t.same(await listAuditFiles(join(dir, 'missing', 'audit.log')), [], 'no directory: no files');
  writeFileSync(join(dir, 'notadir'), '');
  await t.rejects(listAuditFiles(join(dir, 'notadir', 'audit.log')), { code: 'ENOTDIR' });
  mkdirSync(join(dir, 'audit-2026-11-01.log'));
  symlinkSync('nowhere', join(dir, 'audit-2026-11-02.log'));
  writeFileSync(join(dir, 'audit-2026-11-04.log'), 'four\n');
  writeFileSync(join(dir, 'audit-2026-11-03.log'), 'x\n');
  writeFileSync(join(dir, 'audit.log'), 'old\n');
  t.same(await listAuditFiles(join(dir, 'audit.log')), [
    { path: join(dir, 'audit.log'), date: null, size: 4 },
    { path: join(dir, 'audit-2026-11-03.log'), date: '2026-11-03', size: 2 },
    { path: join(dir, 'audit-2026-11-04.log'), date: '2026-11-04', size: 5 },
  ]);
  // a name without an extension
  writeFileSync(join(dir, 'events-2026-11-05'), '');
  t.same((await listAuditFiles(join(dir, 'events'))).map((f) => f.date), ['2026-11-05']);
});
