import fc from 'fast-check';
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, open as openAsync, openSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditLine, checkAuditWritable, createAuditLog, decisionLine, eventLine, memoryAuditSink, nullAuditSink, plainLine } from '../../src/audit/audit-log.js';
import type { DecisionEvent, DropEvent } from '../../src/audit/event.js';
import { auditFileNames } from '../../src/audit/files.js';
import { isSecretKey, redactObject } from '../../src/audit/redact.js';
import { buildReport } from '../../src/audit/report/run.js';
import { limitFileSize } from '../helpers/fsize.js';

const today = () => new Date().toISOString().slice(0, 10);

function decision(i: number, extra: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    // deliberately not in event.ts order: the line must be
    result: i % 3 === 0 ? 'reject' : 'accept',
    event: 'decision',
    time: new Date(Date.UTC(2026, 10, 22, 10, 0, i % 60)).toISOString(),
    server: 'radius-otp-1',
    server_ip: '127.0.0.1',
    client: 'vpn-gw',
    client_ip: '10.0.0.1',
    user: `user${i % 7}`,
    calling_station_id: '00-11-22-33-44-55',
    nas_identifier: 'nas1',
    mode: 'password+otp',
    token_serial: `TOK${i % 5}`,
    ...(i % 3 === 0 ? { reason: 'wrong-code' as const } : {}),
    ...extra,
  };
}

const DECISION_ORDER = [
  'event', 'time', 'server', 'server_ip', 'client', 'client_ip', 'user', 'calling_station_id',
  'nas_identifier', 'mode', 'token_serial', 'result', 'reason',
];

/**
 * Checks until the sink reopens (up to 2 s). It learns its file's inode from an fstat after the
 * open (async): until that has answered it cannot tell a changed file, so under load the first
 * check may come too early.
 */
async function noticed(sink: { checkFile(): Promise<boolean> }): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    if (await sink.checkFile()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `report` makes of the log (every line written so far). */
const reportOf = (file: string) => buildReport({ file, since: new Date('2000-01-01'), until: new Date(Date.now() + 86_400_000), by: 'result' });

t.test('N events → N lines, fields in event.ts order, flushed when close() resolves', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0 });
  const N = 20_000;
  for (let i = 0; i < N; i++) sink.record(decision(i));
  const drop: DropEvent = { reason: 'ma-invalid', event: 'drop', time: '2026-11-22T10:00:00.000Z', server: 's', server_ip: '127.0.0.1', client: '', client_ip: '10.9.9.9' };
  sink.record(drop);
  await sink.close();
  const dated = auditFileNames(file).forDate(today());
  const got = lines(dated); // read at once: close() promised every line is there
  t.equal(got.length, N + 1);
  const first = JSON.parse(got[0]!);
  t.same(Object.keys(first), DECISION_ORDER);
  t.same(first, decision(0));
  t.same(Object.keys(JSON.parse(got[1]!)), DECISION_ORDER.slice(0, -1), 'accept has no reason');
  t.same(Object.keys(JSON.parse(got[N]!)), ['event', 'time', 'server', 'server_ip', 'client', 'client_ip', 'reason']);
  t.equal(got.filter((l) => l.includes('"result":"reject"')).length, Math.ceil(N / 3));
  // audit.log is a link to today's file, for tail -F
  t.ok(lstatSync(file).isSymbolicLink());
  t.equal(readlinkSync(file), `audit-${today()}.log`);
  // no winston fields leak into the line
  t.notMatch(got[0]!, /"level"|"message"/);
  // recording after close is ignored, close() again is the same promise
  sink.record(decision(1));
  await sink.close();
  t.equal(lines(dated).length, N + 1);
});

t.test('extra and secret-looking fields: extras follow the known fields, secrets are masked', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0 });
  sink.record({ ...decision(1), password: 'hunter2', extra: { otp: '123456', note: 'x' } } as DecisionEvent);
  await sink.close();
  const [line] = lines(auditFileNames(file).forDate(today()));
  t.notMatch(line!, /hunter2|123456/);
  t.same(Object.keys(JSON.parse(line!)), [...DECISION_ORDER.slice(0, -1), 'password', 'extra']);
  t.same(JSON.parse(line!).extra, { otp: '[redacted]', note: 'x' });
});

t.test('auditLine keeps an unknown event type as it comes', async (t) => {
  t.equal(auditLine({ level: 'info', message: '', event: 'other', b: 1, a: 2 }), '{"event":"other","b":1,"a":2}');
  t.equal(auditLine({ level: 'info', message: '' }), '{}');
  t.equal(auditLine({ event: 'toString', a: 1 }), '{"event":"toString","a":1}');
  t.equal(auditLine(JSON.parse('{"event":"drop","__proto__":{"a":1}}')), '{"event":"drop","__proto__":{"a":1}}');
  t.equal(auditLine({ event: 'drop', fn: () => 1, 'q"uote': 'x' }), '{"event":"drop","q\\"uote":"x"}');
  const line = auditLine({ ...decision(3), extra: [1, { a: null }] });
  t.same(JSON.parse(line), { ...decision(3), extra: [1, { a: null }] });
});

t.test('plainLine writes a string as JSON.stringify does, for any UTF-16 code units', async (t) => {
  const generic = (e: object) => auditLine(redactObject(e as Record<string, unknown>, { scrubText: false }));
  const units = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((a) => String.fromCharCode(...a));
  fc.assert(
    fc.property(units, units, (user, nas) => {
      const e = decision(1, { user, nas_identifier: nas });
      return plainLine(e) === generic(e);
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 random pairs of field values');
});

t.test('decisionLine: plainLine\'s line for every decision plainLine writes, null for anything else', async (t) => {
  const units = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((a) => String.fromCharCode(...a));
  fc.assert(
    fc.property(units, units, units, fc.nat(), (user, serial, nas, i) => {
      const e = decision(i, { user, token_serial: serial, nas_identifier: nas });
      return decisionLine(e) === plainLine(e) && eventLine(e) === plainLine(e);
    }),
    { numRuns: 2000 },
  );
  const unset = { ...decision(3), reason: undefined } as DecisionEvent;
  t.equal(decisionLine(unset), plainLine(unset), 'an undefined reason is left out');
  t.equal(decisionLine(decision(1, { reason: 'wrong-code' })), plainLine(decision(1, { reason: 'wrong-code' })), 'an accept with a reason');
  const drop: DropEvent = { event: 'drop', time: '2026-11-22T10:00:00.000Z', server: 's', server_ip: '127.0.0.1', client: '', client_ip: '10.9.9.9', reason: 'ma-invalid' };
  t.equal(decisionLine(drop), null, 'a drop');
  t.equal(eventLine(drop), plainLine(drop), 'which plainLine writes');
  const odd: Array<[string, object]> = [
    ['a field not listed', { password: 'hunter2' }],
    ['a buffer', { user: Buffer.from('x') }],
    ['a number', { token_serial: 5 }],
    ['a reason that is not a string', { reason: 1 }],
  ];
  for (const [what, extra] of odd) {
    const e = { ...decision(1), ...extra } as unknown as DecisionEvent;
    t.equal(decisionLine(e), null, what);
    t.equal(eventLine(e), auditLine(redactObject(e as unknown as Record<string, unknown>, { scrubText: false })), `${what}: the generic path`);
  }
  for (const k of DECISION_ORDER.filter((k) => k !== 'event' && k !== 'reason')) {
    const e = { ...decision(1) } as unknown as Record<string, unknown>;
    delete e[k];
    t.equal(decisionLine(e as unknown as DecisionEvent), null, `without ${k}`);
  }
});

t.test('plainLine: the same line as the generic path, or null', async (t) => {
  const generic = (e: object) => auditLine(redactObject(e as Record<string, unknown>, { scrubText: false }));
  // The fast path skips redaction only because no listed field name is secret.
  const DROP_ORDER = ['event', 'time', 'server', 'server_ip', 'client', 'client_ip', 'reason'];
  for (const k of [...DECISION_ORDER, ...DROP_ORDER]) t.notOk(isSecretKey(k), `${k} is not a secret field`);
  const odd = ['', 'a"b', 'back\\slash', 'line\nbreak', 'tab\t', 'ünïcödé ☃', '\u0000\u001f', '\ud800', '__proto__', '123456'];
  let n = 0;
  for (let i = 0; i < 60; i++) {
    const e = decision(i, { user: odd[i % odd.length] as string, calling_station_id: odd[(i * 7) % odd.length] as string });
    const line = plainLine(e);
    t.equal(line, generic(e));
    n += line === null ? 0 : 1;
  }
  t.equal(n, 60, 'every plain decision takes the fast path');
  const drop: DropEvent = { event: 'drop', time: '2026-11-22T10:00:00.000Z', server: 's', server_ip: '127.0.0.1', client: '', client_ip: '10.9.9.9', reason: 'ma-invalid' };
  t.equal(plainLine(drop), generic(drop));
  const unset = { ...decision(3), reason: undefined } as DecisionEvent;
  t.equal(plainLine(unset), generic(unset), 'an undefined field is left out, as JSON does');
  t.notMatch(plainLine(unset) as string, /reason/);
  // Anything else is left to the generic path (redaction, extras, non-strings).
  t.equal(plainLine({ ...decision(1), password: 'hunter2' } as DecisionEvent), null, 'a field not listed');
  t.equal(plainLine({ ...decision(1), user: Buffer.from('x') } as unknown as DecisionEvent), null, 'a buffer');
  t.equal(plainLine({ ...decision(1), user: 5 } as unknown as DecisionEvent), null, 'a number');
  t.equal(plainLine({ event: 'other' } as unknown as DecisionEvent), null, 'another event type');
  const inherited = Object.assign(Object.create({ inherited: 'x' }) as object, decision(2)) as DecisionEvent;
  t.equal(plainLine(inherited), generic(inherited), 'inherited fields are not the event\'s (neither path writes them)');
});

t.test('the file deleted underneath: the next lines land in a new file', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000 });
  const dated = auditFileNames(file).forDate(today());
  sink.record(decision(1));
  // wait until the sink knows which file it has open (it checks nothing before that)
  while (!(await sink.checkFile().then(() => existsSync(dated)))) await new Promise((r) => setTimeout(r, 5));
  t.equal(await sink.checkFile(), false, 'nothing to do while the file is there');
  unlinkSync(dated);
  t.ok(await noticed(sink), 'noticed the deletion and reopened');
  sink.record(decision(2));
  sink.record(decision(3));
  await sink.close();
  const got = lines(dated).map((l) => JSON.parse(l).user);
  t.same(got, ['user2', 'user3']);
  t.equal(await sink.checkFile(), false, 'closed: no more checks');
});

t.test('renamed underneath (outside rotation): old lines stay in the renamed file, new ones go to a new file', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 5 });
  const dated = auditFileNames(file).forDate(today());
  sink.record(decision(1));
  while (!existsSync(dated)) await new Promise((r) => setTimeout(r, 5));
  const ino = statSync(dated).ino;
  renameSync(dated, join(dir, 'moved.log'));
  // the sink's own timer notices (checkIntervalMs: 5) and creates the file again
  while (!existsSync(dated)) await new Promise((r) => setTimeout(r, 5));
  t.not(statSync(dated).ino, ino);
  sink.record(decision(2));
  await sink.close();
  t.same(lines(join(dir, 'moved.log')).map((l) => JSON.parse(l).user), ['user1']);
  t.same(lines(dated).map((l) => JSON.parse(l).user), ['user2']);
});

t.test('reopen() (SIGHUP) closes and reopens by name; no line lost', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0 });
  for (let i = 0; i < 1000; i++) {
    sink.record(decision(i));
    if (i % 100 === 0) sink.reopen();
  }
  await sink.close();
  sink.reopen(); // after close: nothing
  t.equal(lines(auditFileNames(file).forDate(today())).length, 1000);
});

t.test('a write fault is reported and the sink recovers on the next check', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'logs', 'audit.log');
  const errors: string[] = [];
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000, onError: (e) => errors.push(e.message) });
  const dated = auditFileNames(file).forDate(today());
  sink.record(decision(1));
  while (!existsSync(dated)) await new Promise((r) => setTimeout(r, 5));
  // replace the directory by a file: opening anything in it fails
  rmSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs'), '');
  t.ok(await noticed(sink), 'noticed the replaced directory and reopened');
  while (errors.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.match(errors[0], /ENOTDIR|ENOENT/);
  // put the directory back: the broken handle is replaced at the next check
  rmSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'logs'));
  t.ok(await noticed(sink), 'the broken handle is replaced');
  sink.record(decision(2));
  await sink.close();
  t.same(lines(dated).map((l) => JSON.parse(l).user), ['user2']);
});

t.test('write faults go to stderr by default', async (t) => {
  const dir = t.testdir({ logs: '' });
  const written: string[] = [];
  const orig = process.stderr.write;
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  t.teardown(() => void (process.stderr.write = orig));
  const sink = createAuditLog({ file: join(dir, 'logs', 'audit.log'), retentionDays: 0 });
  sink.record(decision(1));
  await sink.close();
  process.stderr.write = orig;
  t.equal(written.length, 1);
  const line = JSON.parse(written[0]!);
  t.same(Object.keys(line), ['level', 'message', 'lines_lost', 'timestamp']);
  t.equal(line.level, 'error');
  t.match(line.message, /^audit log: ENOTDIR: not a directory, open '.*audit-.*\.log'$/);
  t.equal(line.lines_lost, 1, 'the line recorded while the file was opening');
});

/** The UTC day `n` days from today. */
const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

t.test('retention goes by file name: dated files more than retentionDays old are deleted at start, whoever wrote them; nothing else', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const names = auditFileNames(file);
  // Restored or inherited dated files, and no bookkeeping of winston-daily-rotate-file at all.
  const old = [names.forDate(day(-31)), names.forDate(day(-400)), names.forDate('2020-01-01')];
  const kept = [names.forDate(day(-30)), names.forDate(day(-1))];
  const others = ['audit-2020-01-01.log.gz', 'audit-2020-01-01.txt', 'other-2020-01-01.log', 'audit-20200101.log', '.audit.log-rotation.json', 'notes'].map((n) => join(dir, n));
  for (const f of [...old, ...kept, ...others]) writeFileSync(f, '{"event":"decision"}\n');
  const errors: string[] = [];
  const sink = createAuditLog({ file, retentionDays: 30, checkIntervalMs: 3_600_000, onError: (e) => errors.push(e.message) });
  sink.record(decision(1));
  await sink.close();
  for (const f of old) t.notOk(existsSync(f), `${f} deleted`);
  for (const f of [...kept, ...others, names.forDate(today())]) t.ok(existsSync(f), `${f} kept`);
  t.same(errors, []);
});

t.test('retention: when the day turns, the new day\'s file prunes the files it makes too old', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const names = auditFileNames(file);
  const edge = names.forDate(day(-7));
  writeFileSync(edge, '{"event":"decision"}\n');
  const sink = createAuditLog({ file, retentionDays: 7, checkIntervalMs: 3_600_000 });
  sink.record(decision(1));
  while (!existsSync(names.forDate(today()))) await sleep(5);
  t.ok(existsSync(edge), '7 days old: kept today');
  // The rotation reads the clock through moment (Date.now): make it tomorrow for the next write.
  const now = Date.now;
  Date.now = () => now() + 86_400_000;
  try {
    sink.record(decision(2));
    await sleep(0);
  } finally {
    Date.now = now;
  }
  await sink.close();
  t.notOk(existsSync(edge), 'pruned when tomorrow\'s file was opened');
  t.same(lines(names.forDate(day(1))).map((l) => JSON.parse(l).user), ['user2'], 'the line went to tomorrow\'s file');
  t.same(lines(names.forDate(today())).map((l) => JSON.parse(l).user), ['user1']);
});

t.test('retention: a configured path that is a regular file (a log from before rotation) is never deleted', async (t) => {
  const dir = t.testdir({ 'audit.log': '{"event":"decision"}\n' });
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 1, checkIntervalMs: 3_600_000 });
  sink.record(decision(1));
  await sink.close();
  t.equal(readFileSync(file, 'utf8'), '{"event":"decision"}\n');
});

t.test('retention: a directory that cannot be listed is reported; retentionDays 0 keeps every file', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'logs', 'audit.log');
  const errors: string[] = [];
  const sink = createAuditLog({ file, retentionDays: 30, checkIntervalMs: 3_600_000, onError: (e) => errors.push(e.message) });
  sink.record(decision(1));
  while (!existsSync(auditFileNames(file).forDate(today()))) await sleep(5);
  // A file where the directory was: the reopen's pruning cannot list it (nor can the file be opened).
  rmSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs'), '');
  sink.reopen();
  await sink.close();
  t.ok(errors.some((e) => /^ENOTDIR: not a directory, scandir '.*logs'$/.test(e)), 'the listing failure reported');

  const keep = join(dir, 'keep');
  mkdirSync(keep);
  const old = auditFileNames(join(keep, 'audit.log')).forDate('2020-01-01');
  writeFileSync(old, '');
  const all = createAuditLog({ file: join(keep, 'audit.log'), retentionDays: 0 });
  all.record(decision(1));
  await all.close();
  t.ok(existsSync(old));
});

t.test("file '' disables the audit log", async (t) => {
  const sink = createAuditLog({ file: '', retentionDays: 0 });
  sink.record(decision(1));
  sink.reopen();
  t.equal(await sink.checkFile(), false);
  await sink.close();
});

t.test('null and memory sinks', async (t) => {
  const n = nullAuditSink();
  n.record(decision(1));
  await n.close();
  const m = memoryAuditSink();
  m.record(decision(1));
  m.record(decision(2));
  await m.close();
  t.same(m.events.map((e) => (e as DecisionEvent).user), ['user1', 'user2']);
});

t.test('a check sees a deleted file at once (the stat is synchronous); after close() it does nothing', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000 });
  const dated = auditFileNames(file).forDate(today());
  sink.record(decision(1));
  while (!(await sink.checkFile().then(() => existsSync(dated)))) await new Promise((r) => setTimeout(r, 5));
  t.equal(await sink.checkFile(), false, 'the file is there');
  unlinkSync(dated);
  const check = sink.checkFile();
  t.equal(await check, true, 'reopened');
  const closed = sink.close();
  t.equal(await sink.checkFile(), false, 'closing');
  await closed;
});

t.test('the file is written on the event loop: with every thread-pool thread stuck, lines still land', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000 });
  const dated = auditFileNames(file).forDate(today());
  sink.record(decision(1));
  // The file is opened on the pool; wait for the first line.
  while (!(existsSync(dated) && lines(dated).length === 1)) await new Promise((r) => setTimeout(r, 5));
  // Opening a FIFO for reading waits for a writer: each such open holds a pool thread.
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const stuck = Array.from({ length: size }, () => new Promise<number>((resolve, reject) => openAsync(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd)))));
  await new Promise((r) => setTimeout(r, 20));
  sink.record(decision(2));
  // Written 5 ms later from a timer; allow a loaded machine up to 2 s. Through the pool it never is.
  for (let i = 0; i < 200 && lines(dated).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(lines(dated).length, 2, 'the second line is in the file while the pool is busy');
  // Free the pool: a writer's open lets each reader's open return.
  const writers = Array.from({ length: size }, () => openSync(fifo, 'w'));
  for (const fd of await Promise.all(stuck)) closeSync(fd);
  for (const fd of writers) closeSync(fd);
  await sink.close();
  t.equal(lines(dated).length, 2);
});

t.test('a full disk (ENOSPC): every line lost is counted, and reported at most once a second with the count since the last report', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  // Today's file is /dev/full: every write() fails with ENOSPC.
  const dated = auditFileNames(file).forDate(today());
  symlinkSync('/dev/full', dated);
  const errors: string[] = [];
  const counts: number[] = [];
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000, onError: (e, n) => errors.push(`${e.message} [${n}]`), onLost: (n) => counts.push(n) });
  sink.record(decision(1));
  while (errors.length === 0) await sleep(5);
  t.same(errors, [`ENOSPC: no space left on device, write '${dated}' [1]`]);
  // Three more batches within the second: counted at once, said later.
  for (let i = 2; i <= 7; i++) {
    sink.record(decision(i));
    if (i % 2 === 1) await sleep(0);
  }
  await sleep(0);
  t.same(counts, [1, 2, 2, 2], 'each batch counted as it fails');
  t.equal(errors.length, 1, 'not reported again within the second');
  await sink.close();
  t.same(errors.slice(1), [`ENOSPC: no space left on device, write '${dated}' [6]`], 'the rest said on close');
});

t.test('lost lines held back are reported a second after the last report', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  symlinkSync('/dev/full', auditFileNames(file).forDate(today()));
  const errors: string[] = [];
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000, onError: (e, n) => errors.push(`${e.message} [${n}]`) });
  sink.record(decision(1));
  while (errors.length === 0) await sleep(5);
  const first = Date.now();
  sink.record(decision(2));
  while (errors.length === 1) await sleep(5);
  t.ok(Date.now() - first >= 900, 'a second later, not before');
  t.match(errors[1], /^ENOSPC: .* \[1\]$/);
  await sink.close();
  t.equal(errors.length, 2);
});

t.test('a file that cannot be opened: the lines waiting for it and those recorded until it can are counted as lost', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  // A directory where today's file should be: opening it fails (EISDIR), for root too.
  mkdirSync(auditFileNames(file).forDate(today()));
  const errors: string[] = [];
  let lost = 0;
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000, onError: (e, n) => errors.push(`${e.message} [${n}]`), onLost: (n) => (lost += n) });
  // Recorded at once: handed to the file stream while it is still opening.
  sink.record(decision(1));
  sink.record(decision(2));
  sink.record(decision(3));
  while (errors.length === 0) await sleep(5);
  t.match(errors[0], /^EISDIR: .*open '.*' \[3\]$/);
  sink.record(decision(4));
  await sleep(0);
  t.equal(lost, 4, 'the three waiting, and the one after');
  await sink.close();
  t.same(errors.slice(1), [`EISDIR: illegal operation on a directory, open '${auditFileNames(file).forDate(today())}' [1]`]);
});

t.test('a write cut short (the disk filled up mid-batch) is no crash, and the next record starts on a line of its own', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const dated = auditFileNames(file).forDate(today());
  const errors: string[] = [];
  let lost = 0;
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000, onError: (e, n) => errors.push(`${e.message} [${n}]`), onLost: (n) => (lost += n) });
  sink.record(decision(0));
  while (!(existsSync(dated) && lines(dated).length === 1)) await sleep(5);
  const size = statSync(dated).size;
  const restore = limitFileSize(t, size + 100);
  // One batch of five lines; the file takes its first 100 bytes, then refuses the rest.
  for (let i = 1; i <= 5; i++) sink.record(decision(i));
  await sleep(0);
  t.same(errors, [`EFBIG: file too large, write '${dated}' [5]`], 'reported at once, the cut line counted');
  t.equal(lost, 5);
  t.equal(statSync(dated).size, size + 100, 'the batch was cut short after 100 bytes');
  restore();
  sink.record(decision(6));
  await sink.close();
  t.equal(errors.length, 1, 'nothing more lost, nothing more to say');
  const got = readFileSync(dated, 'utf8').split('\n');
  t.equal(got.length, 4, 'a whole line, the fragment, the next record, and the final newline');
  t.same(JSON.parse(got[0]!), decision(0));
  t.equal(got[1], eventLine(decision(1)).slice(0, 100), 'the fragment is a line of its own');
  t.same(JSON.parse(got[2]!), decision(6), 'the next record is intact');
  t.equal(got[3], '');
  const report = await reportOf(file);
  t.same([report.decisions, report.malformed], [2, 1], 'report: both decisions written in full, the fragment one malformed line');
});

t.test('a file left ending in part of a line (a crash, a full disk): the first record written to it starts on a new line', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'audit.log');
  const dated = auditFileNames(file).forDate(today());
  const fragment = eventLine(decision(1)).slice(0, 50);
  writeFileSync(dated, `${eventLine(decision(0))}\n${fragment}`);
  const sink = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000 });
  sink.record(decision(2));
  sink.record(decision(3));
  await sink.close();
  t.same(readFileSync(dated, 'utf8').split('\n'), [eventLine(decision(0)), fragment, eventLine(decision(2)), eventLine(decision(3)), '']);
  const report = await reportOf(file);
  t.same([report.decisions, report.malformed], [3, 1]);
  // A file that ends in a whole line gets no empty line.
  const again = createAuditLog({ file, retentionDays: 0, checkIntervalMs: 3_600_000 });
  again.record(decision(4));
  await again.close();
  t.same(readFileSync(dated, 'utf8').split('\n').slice(-3), [eventLine(decision(3)), eventLine(decision(4)), '']);
});

t.test('checkAuditWritable: makes the directory and today\'s file, or throws the reason it cannot', async (t) => {
  const dir = t.testdir({ plain: '' });
  const file = join(dir, 'logs', 'audit.log');
  checkAuditWritable(file);
  t.ok(statSync(auditFileNames(file).forDate(today())).isFile(), "today's file, in a new directory");
  t.throws(() => checkAuditWritable(join(dir, 'plain', 'audit.log')), { code: 'ENOTDIR' }, 'a file where the directory should be');
  t.throws(() => checkAuditWritable(join(dir, 'plain', 'sub', 'audit.log')), { code: 'ENOTDIR' }, 'a file on the way to it');
  checkAuditWritable(''); // disabled: nothing to check
  t.notOk(existsSync(auditFileNames('').forDate(today())), 'nothing made');
});
