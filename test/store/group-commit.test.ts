/**
 * Group commit (SqliteTokens.groupCommits): the writes of one event-loop turn share one
 * transaction; settled() says when they are committed, or that the batch was rolled back.
 */
import Database from 'better-sqlite3';
import t from 'tap';
import { tempStore, totpRecord } from '../helpers/store.js';

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
