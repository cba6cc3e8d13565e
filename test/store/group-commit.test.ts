/**
 * Group commit (SqliteTokens.groupCommits): the writes of one event-loop turn share one
 * transaction; settled() says when they are committed, or that the batch was rolled back.
 */
import { fstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite/open.js';
import { fakeSealer, tempStore, totpRecord } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

const lastStepSeenBy = (path: string, serial: string): number | null => {
  const other = new Database(path, { readonly: true });
  try {
    return other.prepare('SELECT last_step FROM tokens WHERE serial = ?').pluck().get(serial) as number | null;
  } finally {
    other.close();
  }
};

t.test('writes of one turn are one transaction, committed before settled() resolves', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A'), totpRecord('B')], { replace: false, createUsers: false });
  const a = store.tokens.get('A')!.id;
  const b = store.tokens.get('B')!.id;
  await store.tokens.settled(); // nothing waiting
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(a, 100, 0, 1));
  t.notOk(store.tokens.commitTotp(a, 100, 0, 1), 'the replay guard sees the batch at once');
  t.equal(store.tokens.recordFailure(b, 1, 10), 1);
  t.ok(store.db.inTransaction);
  t.equal(lastStepSeenBy(path, 'A'), null, 'not visible to another connection before COMMIT');
  await store.tokens.settled();
  t.notOk(store.db.inTransaction);
  t.equal(lastStepSeenBy(path, 'A'), 100, 'committed');
  t.ok(store.tokens.commitHotp(b, 3, 2), 'the next turn opens a new batch');
  await store.tokens.settled();
  t.equal(store.tokens.get('B')?.counter, 3);
});

t.test('a failed COMMIT rolls the batch back and settled() rejects', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A')], { replace: false, createUsers: false });
  const a = store.tokens.get('A')!.id;
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(a, 100, 0, 1));
  // A deferred foreign-key violation makes this batch's COMMIT fail.
  store.db.pragma('defer_foreign_keys = ON');
  store.db.prepare("INSERT INTO user_groups (user, grp) VALUES ('nobody', 'g')").run();
  await t.rejects(store.tokens.settled());
  t.notOk(store.db.inTransaction, 'rolled back');
  t.equal(store.tokens.get('A')?.lastStep, null, 'the accepted step is not kept');
  t.equal(lastStepSeenBy(path, 'A'), null);
});

t.test('a batch still open when the store closes is not committed, and nothing throws', async (t) => {
  const { store, path } = tempStore();
  store.tokens.importMany([totpRecord('A')], { replace: false, createUsers: false });
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  const settled = store.tokens.settled();
  store.close();
  await t.rejects(settled);
  t.equal(lastStepSeenBy(path, 'A'), null);
});

t.test('the code-only read opens the batch: the read and the commit that follows are one transaction', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  store.users.add('alice', null);
  store.tokens.importMany([totpRecord('A', { user: 'alice' })], { replace: false, createUsers: false });
  store.tokens.groupCommits();
  const [owned] = store.tokens.forEnabledUser('alice')!;
  t.ok(store.db.inTransaction, 'the turn\'s batch is open from the read on');
  t.ok(store.tokens.commitTotp(owned!.token.id, 100, 0, 1));
  t.equal(lastStepSeenBy(path, 'A'), null);
  await store.tokens.settled();
  t.notOk(store.db.inTransaction);
  t.equal(lastStepSeenBy(path, 'A'), 100);
  t.same(store.tokens.forEnabledUser('nobody'), []);
  await store.tokens.settled();
  t.notOk(store.db.inTransaction, 'a batch with only a read commits too');
});

t.test('in a fast stream of writes, a small batch waits a moment and takes the next turn\'s writes', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A'), totpRecord('B')], { replace: false, createUsers: false });
  const a = store.tokens.get('A')!.id;
  const b = store.tokens.get('B')!.id;
  store.tokens.groupCommits();
  await store.tokens.mirrorLoaded();
  // Batches of five writes, turn after turn: the writes come fast (the test's turns are slower
  // than a server's, so five make up for it).
  let step = 100;
  let accepted = 0;
  for (let i = 0; i < 30; i++) {
    for (let k = 0; k < 5; k++) if (store.tokens.commitTotp(a, step++, 0, 1)) accepted++;
    await store.tokens.settled();
  }
  t.equal(accepted, 150);
  t.ok(store.tokens.commitTotp(a, step, 0, 1));
  const first = store.tokens.settled();
  // Runs after the batch's own check, in the same phase: it finds the batch still open.
  // (Wrapped: a promise resolved with a promise would adopt it.)
  const { second } = await new Promise<{ second: Promise<void> }>((resolve) =>
    setImmediate(() => {
      t.ok(store.tokens.commitTotp(b, 7, 0, 1));
      resolve({ second: store.tokens.settled() });
    }),
  );
  t.equal(second, first, 'one batch: the second write came while the first waited');
  t.equal(lastStepSeenBy(path, 'B'), null, 'not committed yet');
  await second;
  t.same([lastStepSeenBy(path, 'A'), lastStepSeenBy(path, 'B')], [step, 7], 'both committed together');
});

/** openSqliteStore with fs.fdatasync held until `finish(i)` (the WAL sync of wal-sync.ts). */
async function heldSyncStore(t: Tap.Test, synchronous: 'full' | 'normal') {
  const fs = await import('node:fs');
  const calls: Array<{ fd: number; done: (err: NodeJS.ErrnoException | null) => void }> = [];
  // Each module is mocked where it imports the next: wal-sync.js imports node:fs.
  const walSync = await t.mockImport('../../src/store/sqlite/wal-sync.js', {
    'node:fs': { ...fs, fdatasync: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => calls.push({ fd, done }) },
  });
  const tokens = await t.mockImport('../../src/store/sqlite/tokens.js', { '../../src/store/sqlite/wal-sync.js': walSync });
  const mod = await t.mockImport<typeof import('../../src/store/sqlite/open.js')>('../../src/store/sqlite/open.js', {
    '../../src/store/sqlite/tokens.js': tokens,
  });
  const path = join(tempDir('radius-otp-store-'), 'radius-otp.db');
  const store = mod.openSqliteStore({ path, sealer: fakeSealer, onSealError: () => {}, synchronous });
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A'), totpRecord('B')], { replace: false, createUsers: false });
  return { store, path, calls, finish: (i: number, err?: Error) => calls[i]!.done((err as NodeJS.ErrnoException) ?? null) };
}

const stateOf = (p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> =>
  Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), new Promise<'pending'>((r) => setTimeout(() => r('pending'), 5))]);

t.test('synchronous = FULL: a batch commits as NORMAL, then durable() waits for the WAL\'s fdatasync', async (t) => {
  const { store, path, calls, finish } = await heldSyncStore(t, 'full');
  t.equal(store.db.pragma('synchronous', { simple: true }), 2, 'the CLI\'s commits: SQLite FULL, synced in each COMMIT');
  store.tokens.groupCommits();
  t.equal(store.db.pragma('synchronous', { simple: true }), 1, 'the server\'s: NORMAL, the WAL synced after');
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  const settled = store.tokens.settled();
  const durable = store.tokens.durable();
  await settled;
  t.equal(lastStepSeenBy(path, 'A'), 100, 'committed');
  t.equal(calls.length, 1, 'one sync after the COMMIT');
  t.equal(fstatSync(calls[0]!.fd).ino, statSync(`${path}-wal`).ino, 'of the WAL file');
  t.equal(await stateOf(durable), 'pending', 'not durable before the sync ends');
  t.equal(await stateOf(store.tokens.durable()), 'pending', 'nor for a caller after the COMMIT, with no batch open');
  t.ok(store.tokens.commitTotp(store.tokens.get('B')!.id, 100, 0, 1), 'the next batch runs meanwhile');
  const next = store.tokens.durable();
  await store.tokens.settled();
  finish(0);
  t.equal(await stateOf(durable), 'resolved');
  t.equal(await stateOf(next), 'pending', 'the next batch waits for a sync that began after its COMMIT');
  t.equal(calls.length, 2);
  finish(1);
  t.equal(await stateOf(next), 'resolved');
});

t.test('a failed WAL sync: the batch stays committed, durable() rejects from then on, and the listener is told once', async (t) => {
  const { store, calls, finish } = await heldSyncStore(t, 'full');
  const lost: string[] = [];
  store.tokens.onDurabilityLost((err) => lost.push(err.message));
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  const durable = store.tokens.durable();
  await store.tokens.settled();
  t.equal(calls.length, 1);
  finish(0, new Error('EIO: i/o error'));
  const message = /^cannot sync .*radius-otp\.db-wal: EIO: i\/o error$/;
  await t.rejects(durable, { message });
  t.equal(store.tokens.get('A')?.lastStep, 100, 'the code stays used');
  await t.rejects(store.tokens.durable(), { message }, 'with no batch open');
  t.ok(store.tokens.commitTotp(store.tokens.get('B')!.id, 100, 0, 1));
  await t.rejects(store.tokens.durable(), { message }, 'nor for a later batch');
  await t.rejects(store.tokens.durable(), { message });
  t.equal(calls.length, 1, 'no sync is tried again (it would succeed without the lost pages)');
  t.equal(lost.length, 1);
  t.match(lost[0], message);
});

t.test('a failed WAL sync with no listener (the CLI has none) only rejects', async (t) => {
  const { store, finish } = await heldSyncStore(t, 'full');
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  const durable = store.tokens.durable();
  await store.tokens.settled();
  finish(0, new Error('EIO'));
  await t.rejects(durable, { message: /EIO$/ });
});

t.test('the WAL started over after a checkpoint is still the file synced (same inode)', async (t) => {
  const { store, path, calls, finish } = await heldSyncStore(t, 'full');
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  await store.tokens.settled();
  finish(0);
  await store.tokens.durable();
  const before = statSync(`${path}-wal`).ino;
  for (const mode of ['RESTART', 'TRUNCATE']) {
    store.db.pragma(`wal_checkpoint(${mode})`);
    t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 101 + calls.length, 0, 1));
    await store.tokens.settled();
    t.equal(statSync(`${path}-wal`).ino, before, `after a ${mode} checkpoint`);
    t.equal(fstatSync(calls.at(-1)!.fd).ino, before, 'the descriptor synced is the WAL at its path');
    finish(calls.length - 1);
    await store.tokens.durable();
  }
});

t.test('synchronous = NORMAL: no sync; durable() is settled()', async (t) => {
  const { store, calls } = await heldSyncStore(t, 'normal');
  t.equal(store.db.pragma('synchronous', { simple: true }), 1);
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  const durable = store.tokens.durable();
  await store.tokens.settled();
  t.equal(await stateOf(durable), 'resolved');
  t.equal(await stateOf(store.tokens.durable()), 'resolved', 'and with no batch open');
  t.equal(calls.length, 0);
});

t.test('a rolled-back batch: durable() rejects as settled() does', async (t) => {
  const { store, calls } = await heldSyncStore(t, 'full');
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  store.db.pragma('defer_foreign_keys = ON');
  store.db.prepare("INSERT INTO user_groups (user, grp) VALUES ('nobody', 'g')").run();
  const durable = store.tokens.durable();
  await t.rejects(store.tokens.settled());
  await t.rejects(durable);
  t.equal(calls.length, 0, 'nothing to sync');
});

t.test('an in-memory store has no WAL to sync: durable() is settled()', async (t) => {
  const store = openSqliteStore({ path: ':memory:', sealer: fakeSealer, onSealError: () => {}, synchronous: 'full' });
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A')], { replace: false, createUsers: false });
  store.tokens.groupCommits();
  t.ok(store.tokens.commitTotp(store.tokens.get('A')!.id, 100, 0, 1));
  await store.tokens.durable();
  t.equal(store.tokens.get('A')?.lastStep, 100);
});

t.test('evenOutReject (RELIABILITY O10): a batch without a write gets one that changes no token; one with a write, none', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  const rejectWrites = (): number => store.db.prepare('SELECT count FROM reject_writes').pluck().get() as number;
  store.tokens.evenOutReject();
  t.equal(rejectWrites(), 0, 'without group commit nothing waits for a commit: nothing written');
  t.notOk(store.db.inTransaction);

  store.tokens.groupCommits();
  await store.tokens.mirrorLoaded();
  store.tokens.evenOutReject();
  await store.tokens.settled();
  t.equal(rejectWrites(), 1, 'an empty store: the count is written all the same');

  store.tokens.importMany(
    Array.from({ length: 50 }, (_, i) => totpRecord(`E${i}`)),
    { replace: false, createUsers: false },
  );
  const b = store.tokens.get('E7')!.id;
  store.tokens.recordFailure(b, 1, 10);
  await store.tokens.settled();
  const before = JSON.stringify(store.tokens.list());
  for (let i = 0; i < 20; i++) {
    store.tokens.evenOutReject();
    if (!store.db.inTransaction) t.fail('it opens the turn’s batch');
    await store.tokens.settled();
  }
  t.equal(rejectWrites(), 21, 'each batch wrote (a changed row: the COMMIT writes a page)');
  t.equal(JSON.stringify(store.tokens.list()), before, 'no token changed (failures, locks, replay state)');

  store.tokens.recordFailure(b, 2, 10);
  store.tokens.evenOutReject();
  await store.tokens.settled();
  t.equal(rejectWrites(), 21, 'a batch that wrote already: nothing more');
  const other = new Database(path, { readonly: true });
  t.teardown(() => other.close());
  t.equal(other.prepare('SELECT failures FROM tokens WHERE id = ?').pluck().get(b), 2);
});
