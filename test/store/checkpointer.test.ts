/**
 * The checkpoint thread (store/sqlite/checkpointer.ts): the server's connection stops
 * checkpointing, the thread copies the WAL back and makes it start over under continuous writes,
 * and if the thread fails the connection checkpoints itself again.
 */
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { OVERDUE_PAGES, startCheckpointer, type CheckpointPass } from '../../src/store/sqlite/checkpointer.js';
import { CHECKPOINT_NICE } from '../../src/store/sqlite/checkpoint-pacing.js';
import { SCHED_IDLE, SCHED_OTHER, threadsOf } from '../../src/sched/idle-policy.js';

const ROWS = 2000;

function walDb(dir: string): Database.Database {
  const db = new Database(join(dir, 'store.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad BLOB)');
  const insert = db.prepare('INSERT INTO t (v, pad) VALUES (0, randomblob(200))');
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run();
  })();
  return db;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true }) as number;

t.test('under continuous writes the thread copies the WAL back and it starts over; nothing is lost', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  const errors: Error[] = [];
  const passes: CheckpointPass[] = [];
  const cp = startCheckpointer(db, { onError: (e) => errors.push(e), onPass: (p) => passes.push(p), idleMs: 2, busyMs: 1, lazyMs: 2, restartFrames: 64 });
  t.equal(autocheckpoint(db), 1000, 'the connection checkpoints itself until the thread is up');
  const update = db.prepare('UPDATE t SET v = v + 1 WHERE id = ?');
  let writes = 0;
  const restarts = () => passes.filter((p) => p.restarted).length;
  // One transaction per write (each dirties one page), other work in between, as the server does.
  while (restarts() < 3 && writes < 500_000) {
    for (let i = 0; i < 10; i++) update.run(1 + ((writes++ * 7919) % ROWS));
    await turn();
  }
  t.equal(autocheckpoint(db), OVERDUE_PAGES, 'then only past OVERDUE_PAGES');
  t.ok(restarts() >= 3, `copied back whole ${restarts()} times (${writes} writes, ${passes.length} passes)`);
  // Started over: a pass after a restart finds fewer frames than the restart did.
  t.ok(passes.some((p, i) => p.restarted && passes.slice(i + 1).some((q) => q.log < p.log)), 'the WAL started over');
  // Inside a batch the connection leaves it to a later pass (a checkpoint cannot run in a transaction).
  const nextPass = async (done: (p: CheckpointPass) => boolean): Promise<CheckpointPass> => {
    const from = passes.length;
    for (;;) {
      const hit = passes.slice(from).find(done);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  for (let i = 0; i < 100; i++) update.run(1 + ((writes++ * 7919) % ROWS)); // ≥ 100 frames, no turn for a restart
  db.exec('BEGIN IMMEDIATE');
  update.run(1);
  writes++;
  const inBatch = await nextPass((p) => p.log >= 64);
  t.notOk(inBatch.restarted, 'not inside a transaction');
  db.exec('COMMIT');
  // After it, yes (if the thread's next pass held the checkpoint lock just then, the next commit's pass).
  let after = await nextPass((p) => p.log >= 64);
  for (let i = 0; !after.restarted && i < 20; i++) {
    update.run(2);
    writes++;
    after = await nextPass((p) => p.log >= 64);
  }
  t.ok(after.restarted, 'after it, yes');
  await cp.stop();
  t.equal(db.prepare('SELECT sum(v) FROM t').pluck().get(), writes, 'every write is there');
  t.same(errors, [], 'stop() is not a failure');
  db.close();
  const again = new Database(join(dir, 'store.db'));
  t.equal(again.prepare('SELECT sum(v) FROM t').pluck().get(), writes, 'and after reopening');
  again.close();
});

/** Nice values of this process's threads, the main thread first (readdir order of /proc/self/task). */
function threadNices(): number[] {
  return threadsOf().map((th) => th.nice);
}

t.test('the thread runs at the lowest priority; the event loop keeps its own', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  t.teardown(() => db.close());
  const before = threadNices();
  t.notOk(before.includes(CHECKPOINT_NICE), 'no thread at nice 19 before');
  let passed!: () => void;
  const firstPass = new Promise<void>((resolve) => (passed = resolve));
  const cp = startCheckpointer(db, { onError: (e) => t.fail(e.message), onPass: () => passed() });
  cp.worker?.ref();
  db.prepare('UPDATE t SET v = 1 WHERE id = 1').run();
  await firstPass;
  t.equal(threadNices().filter((n) => n === CHECKPOINT_NICE).length, 1, 'one thread at nice 19');
  t.equal(threadNices()[0], before[0], 'the main thread (listed first) keeps its nice value');
  await cp.stop();
  t.notOk(threadNices().includes(CHECKPOINT_NICE), 'gone after stop()');
});

t.test('idlePolicy: the thread also puts itself under SCHED_IDLE; without it, it stays SCHED_OTHER', async (t) => {
  for (const idlePolicy of [true, false]) {
    const dir = t.testdir();
    const db = walDb(dir);
    let passed!: () => void;
    const firstPass = new Promise<void>((resolve) => (passed = resolve));
    const cp = startCheckpointer(db, { idlePolicy, onError: (e) => t.fail(e.message), onPass: () => passed() });
    cp.worker?.ref();
    db.prepare('UPDATE t SET v = 1 WHERE id = 1').run();
    await firstPass;
    const thread = threadsOf().filter((th) => th.nice === CHECKPOINT_NICE);
    t.equal(thread.length, 1, 'one thread at nice 19');
    t.equal(thread[0]?.policy, idlePolicy ? SCHED_IDLE : SCHED_OTHER, `idlePolicy ${idlePolicy}`);
    await cp.stop();
    db.close();
  }
});

t.test('a thread that gets no time: the connection checkpoints past overduePages, so the WAL stays bounded', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  t.teardown(() => db.close());
  let passed!: () => void;
  const firstPass = new Promise<void>((resolve) => (passed = resolve));
  // After its first pass the thread waits ten minutes: as good as starved.
  const wait = 600_000;
  const cp = startCheckpointer(db, { onError: (e) => t.fail(e.message), onPass: () => passed(), idleMs: wait, busyMs: wait, lazyMs: wait, overduePages: 100 });
  cp.worker?.ref();
  db.prepare('UPDATE t SET v = 1 WHERE id = 1').run();
  await firstPass;
  t.equal(autocheckpoint(db), 100);
  const update = db.prepare('UPDATE t SET v = v + 1 WHERE id = ?');
  for (let i = 0; i < 1000; i++) update.run(1 + ((i * 7919) % ROWS)); // a frame or more each
  const frames = (statSync(join(dir, 'store.db-wal')).size - 32) / (4096 + 24);
  t.ok(frames < 200, `the WAL holds ${frames} frames after 1,000 commits (without the connection's checkpoints, 1,000 or more)`);
  t.equal(db.prepare('SELECT sum(v) FROM t').pluck().get(), 1001, 'every write is there');
  await cp.stop();
});

t.test('a thread that dies hands checkpoints back to the connection', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  t.teardown(() => db.close());
  const errors: Error[] = [];
  let passed!: () => void;
  const firstPass = new Promise<void>((resolve) => (passed = resolve));
  const cp = startCheckpointer(db, { onError: (e) => errors.push(e), onPass: () => passed() });
  cp.worker?.ref(); // the thread does not hold a process open by itself: here nothing else would
  await firstPass;
  t.equal(autocheckpoint(db), OVERDUE_PAGES);
  await cp.worker?.terminate();
  await cp.stop();
  t.equal(errors.length, 1);
  t.match(errors[0]?.message, /checkpoint thread exited/);
  t.equal(autocheckpoint(db), 1000, "SQLite's default again");
});

t.test('the connection closed under the thread: its passes are ignored until stop()', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  const errors: Error[] = [];
  let passes = 0;
  const cp = startCheckpointer(db, { onError: (e) => errors.push(e), onPass: () => passes++, idleMs: 1, busyMs: 1, lazyMs: 1 });
  cp.worker?.ref();
  while (passes === 0) await new Promise((r) => setTimeout(r, 2));
  db.close();
  // Another connection commits: the thread makes a pass and reports it to the closed connection.
  const other = new Database(join(dir, 'store.db'));
  t.teardown(() => other.close());
  const seen = passes;
  other.prepare('UPDATE t SET v = 1 WHERE id = 1').run();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(passes, seen, 'nothing reported for a closed connection');
  await cp.stop();
  t.same(errors, []);
});

t.test('an in-memory database has no WAL and gets no thread', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const cp = startCheckpointer(db, { onError: () => t.fail('no thread, no failure') });
  t.equal(cp.worker, null);
  t.equal(autocheckpoint(db), 1000, 'left as it is');
  await cp.stop();
});

t.test('a thread that cannot open the store reports why, and the connection checkpoints itself', async (t) => {
  const dir = t.testdir();
  const db = walDb(dir);
  t.teardown(() => db.close());
  unlinkSync(join(dir, 'store.db')); // the open connection keeps its file; a new one finds nothing
  const errors: Error[] = [];
  const cp = startCheckpointer(db, { onError: (e) => errors.push(e) });
  await cp.stop();
  t.equal(errors.length, 1);
  t.equal(errors[0]?.message, 'the checkpoint thread failed: SQLITE_CANTOPEN');
  t.equal(autocheckpoint(db), 1000);
});
