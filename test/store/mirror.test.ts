/**
 * The token mirror inside SqliteTokens (group commit on, as the server runs it): the loader holds
 * every enabled user whole, the code-only read is served from it, the replay guard's writes are
 * followed, and every other change — another connection's commit, an administrative write on
 * this one, a batch rolled back — is seen by the very next read.
 */
import Database from 'better-sqlite3';
import t from 'tap';
import type { SecretSealer } from '../../src/store/sqlite/tokens.js';
import type { TokenWithSecret } from '../../src/store/types.js';
import { fakeSealer, tempStore, totpRecord } from '../helpers/store.js';

/** fakeSealer, counting the secrets it opens: a read served by the mirror opens none. */
function countingSealer(): { sealer: SecretSealer; opens: () => number } {
  let opens = 0;
  return {
    sealer: { keyId: 0, seal: fakeSealer.seal, open: (id, blob) => (opens++, fakeSealer.open(id, blob)) },
    opens: () => opens,
  };
}

/** Event-loop turns: the loader reads one chunk per turn, and each turn's batch commits. */
async function turns(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

const view = (owned: readonly TokenWithSecret[] | null) => owned && owned.map((o) => ({ ...o.token, secret: o.secret.toString('hex') }));

function mirrored(opts: { onSealError?: (serial: string) => void } = {}) {
  const counting = countingSealer();
  const made = tempStore({ sealer: counting.sealer, onSealError: opts.onSealError });
  return { ...made, tokens: made.store.tokens, opens: counting.opens };
}

t.test('the loader holds each enabled user with all their tokens, across chunks', async (t) => {
  const sealErrors: string[] = [];
  const { store, tokens, opens } = mirrored({ onSealError: (s) => sealErrors.push(s) });
  t.teardown(() => store.close());
  const records = [
    ...Array.from({ length: 600 }, (_, i) => totpRecord(`A${i}`, { user: `a${String(i).padStart(3, '0')}`, secret: Buffer.alloc(20, i) })),
    // One user with more tokens than a chunk holds: left to its first request.
    ...Array.from({ length: 300 }, (_, i) => totpRecord(`B${i}`, { user: 'big' })),
    // Two tokens each, so some pair falls across a chunk's end.
    ...Array.from({ length: 400 }, (_, i) => totpRecord(`C${i}`, { user: `c${String(i >> 1).padStart(3, '0')}`, type: i % 2 ? 'hotp' : 'totp', counter: i })),
    totpRecord('D1', { user: 'disabled' }),
    totpRecord('E1', { user: 'tampered' }),
    totpRecord('E2', { user: 'tampered' }),
    totpRecord('F1'), // no user
  ];
  tokens.importMany(records, { replace: false, createUsers: true });
  store.users.setEnabled('disabled', false);
  store.db.prepare("UPDATE tokens SET secret = x'00' WHERE serial = 'E2'").run();
  t.equal(tokens.mirrorStats(), null, 'no mirror without group commit');

  tokens.groupCommits();
  tokens.groupCommits(); // once is enough; a second call changes nothing
  await tokens.mirrorLoaded();
  t.same(tokens.mirrorStats(), { users: 800, tokens: 1000, clears: 0 });
  t.same(sealErrors, [], 'the loader reports nothing: the request that asks for the token does');

  const before = opens();
  for (let i = 0; i < 200; i++) {
    const user = `c${String(i).padStart(3, '0')}`;
    t.same(view(tokens.forEnabledUser(user)), view(tokens.forUser(user)), user);
  }
  for (const i of [0, 255, 256, 511, 599]) {
    const user = `a${String(i).padStart(3, '0')}`;
    t.same(view(tokens.forEnabledUser(user)), view(tokens.forUser(user)), user);
  }
  t.equal(opens() - before, 400 + 5, 'only forUser (the store) opened secrets: forEnabledUser none');

  const big = opens();
  t.equal(tokens.forEnabledUser('big')!.length, 300);
  t.equal(opens() - big, 300, 'read from the store once');
  t.equal(tokens.forEnabledUser('big')!.length, 300);
  t.equal(opens() - big, 300, 'then held');

  t.equal(tokens.forEnabledUser('disabled'), null);
  t.same(tokens.forEnabledUser('nobody'), []);
  t.throws(() => tokens.forEnabledUser('tampered'), { code: 'seal-failed' });
  t.throws(() => tokens.forEnabledUser('tampered'), { code: 'seal-failed' }, 'the user is refused, not left with E1');
  t.same(sealErrors, ['E2', 'E2'], 'a token that does not open is never held: each request reports it');
  t.same(tokens.mirrorStats(), { users: 801, tokens: 1300, clears: 0 });
});

t.test('the replay guard’s writes are followed without reading the store', async (t) => {
  const { store, tokens, opens } = mirrored();
  t.teardown(() => store.close());
  tokens.importMany([totpRecord('T', { user: 'alice' }), totpRecord('H', { user: 'alice', type: 'hotp', counter: 5 })], { replace: false, createUsers: true });
  tokens.groupCommits();
  await turns(3);
  const [totp, hotp] = tokens.forEnabledUser('alice')!.map((o) => o.token);
  const opened = opens();
  t.ok(tokens.commitTotp(totp!.id, 100, 1, 10));
  t.notOk(tokens.commitTotp(totp!.id, 100, 1, 10), 'the SQL guard still answers a replay');
  t.ok(tokens.commitHotp(hotp!.id, 9, 10));
  t.match(view(tokens.forEnabledUser('alice')), [{ lastStep: 100, drift: 1 }, { counter: 9 }]);
  t.equal(tokens.recordFailure(totp!.id, 20, 2), 1);
  t.equal(tokens.recordFailure(totp!.id, 21, 2), 2);
  t.match(view(tokens.forEnabledUser('alice')), [{ failures: 2, lockedAt: 21 }]);
  t.equal(tokens.recordFailure(-1, 22, 2), 0, 'no such token');
  t.ok(tokens.unlock('T'));
  t.notOk(tokens.unlock('nope'));
  t.match(view(tokens.forEnabledUser('alice')), [{ failures: 0, lockedAt: null }]);
  t.equal(opens(), opened, 'no secret opened again');
  t.equal(tokens.mirrorStats()!.clears, 0, 'an unlock is followed, not forgotten');
  await tokens.settled();
  t.same(view(tokens.forEnabledUser('alice')), view(tokens.forUser('alice')), 'the mirror and the store agree');
});

t.test('another connection’s commit is seen by the next read; its checkpoint empties nothing', async (t) => {
  const { store, tokens, path } = mirrored();
  t.teardown(() => store.close());
  tokens.importMany([totpRecord('T', { user: 'alice' }), totpRecord('U', { user: 'bob' })], { replace: false, createUsers: true });
  tokens.groupCommits();
  await turns(3);
  t.equal(tokens.mirrorStats()!.users, 2);
  await tokens.settled();
  const other = new Database(path);
  t.teardown(() => other.close());

  other.pragma('wal_checkpoint(PASSIVE)');
  t.ok(tokens.forEnabledUser('alice'));
  t.equal(tokens.mirrorStats()!.clears, 0, 'a checkpoint does not change data_version');
  await tokens.settled();

  other.prepare("UPDATE users SET enabled = 0 WHERE name = 'alice'").run(); // as `user disable` does
  t.equal(tokens.forEnabledUser('alice'), null);
  t.match(tokens.mirrorStats(), { clears: 1 });
  await tokens.settled();

  other.prepare("UPDATE tokens SET last_step = 500, enabled = 0 WHERE serial = 'U'").run();
  t.match(view(tokens.forEnabledUser('bob')), [{ lastStep: 500, enabled: false }]);
  t.match(tokens.mirrorStats(), { clears: 2 });
});

t.test('an administrative write on this connection is seen by the next read, in the same turn', async (t) => {
  const { store, tokens } = mirrored();
  t.teardown(() => store.close());
  tokens.importMany([totpRecord('T', { user: 'alice' })], { replace: false, createUsers: true });
  store.users.add('bob', null);
  tokens.groupCommits();
  await turns(3);
  const id = tokens.get('T')!.id;
  const steps: Array<[string, () => unknown, (owned: ReturnType<typeof view>, bob: ReturnType<typeof view>) => void]> = [
    ['token disable', () => tokens.setEnabled('T', false), (a) => t.match(a, [{ enabled: false }])],
    ['token enable', () => tokens.setEnabled('T', true), (a) => t.match(a, [{ enabled: true }])],
    ['user disable', () => store.users.setEnabled('alice', false), (a) => t.equal(a, null)],
    ['user enable', () => store.users.setEnabled('alice', true), (a) => t.equal(a?.length, 1)],
    ['resync', () => tokens.resync(id, { drift: 4, lastStep: 9, counter: 0 }), (a) => t.match(a, [{ drift: 4, lastStep: 9 }])],
    ['unlock all', () => (tokens.recordFailure(id, 1, 1), tokens.unlockAll('alice')), (a) => t.match(a, [{ failures: 0, lockedAt: null }])],
    ['import --replace', () => tokens.importMany([totpRecord('T', { user: 'alice', secret: Buffer.alloc(20, 7) })], { replace: true, createUsers: false }), (a) => t.equal(a?.[0]?.secret, Buffer.alloc(20, 7).toString('hex'))],
    ['assign to bob', () => tokens.assign('T', 'bob'), (a, b) => (t.same(a, []), t.match(b, [{ serial: 'T' }]))],
    ['unassign all', () => tokens.unassignAll('bob'), (a, b) => (t.same(a, []), t.same(b, []))],
    ['assign back', () => tokens.assign('T', 'alice'), (a) => t.match(a, [{ serial: 'T' }])],
    ['user delete (a user the table does not know is not a disabled one)', () => store.users.delete('alice'), (a) => t.match(a, [{ serial: 'T' }])],
    ['user add', () => store.users.add('alice', null), (a) => t.match(a, [{ serial: 'T' }])],
    ['delete', () => tokens.delete('T'), (a) => t.same(a, [])],
  ];
  let clears = tokens.mirrorStats()!.clears;
  for (const [name, act, check] of steps) {
    tokens.forEnabledUser('alice'); // held before the change
    tokens.forEnabledUser('bob');
    act();
    check(view(tokens.forEnabledUser('alice')), view(tokens.forEnabledUser('bob')));
    t.ok(tokens.mirrorStats()!.clears > clears, `${name}: the mirror was emptied`);
    clears = tokens.mirrorStats()!.clears;
  }
});

t.test('a batch rolled back empties the mirror: the accepted step is not kept there either', async (t) => {
  const { store, tokens } = mirrored();
  t.teardown(() => store.close());
  tokens.importMany([totpRecord('T', { user: 'alice' })], { replace: false, createUsers: true });
  tokens.groupCommits();
  await turns(3);
  const [owned] = tokens.forEnabledUser('alice')!;
  t.ok(tokens.commitTotp(owned!.token.id, 100, 0, 1));
  store.db.pragma('defer_foreign_keys = ON');
  store.db.prepare("INSERT INTO user_groups (user, grp) VALUES ('nobody', 'g')").run();
  await t.rejects(tokens.settled());
  t.match(tokens.mirrorStats(), { clears: 1, users: 0 });
  t.match(view(tokens.forEnabledUser('alice')), [{ lastStep: null }]);
});

t.test('the loader stops when the mirror is emptied, and when the store closes', async (t) => {
  const { store, tokens } = mirrored();
  tokens.importMany(
    Array.from({ length: 1000 }, (_, i) => totpRecord(`A${i}`, { user: `u${String(i).padStart(4, '0')}` })),
    { replace: false, createUsers: true },
  );
  tokens.groupCommits();
  await turns(1);
  const first = tokens.mirrorStats()!.tokens;
  t.ok(first > 0 && first < 1000, `one chunk per turn (${first})`);
  tokens.forgetMirror();
  await tokens.mirrorLoaded(); // the loader stopped
  t.equal(tokens.mirrorStats()!.tokens, 0, 'the rest is not loaded: the mirror fills as users ask');
  t.equal(tokens.forEnabledUser('u0999')!.length, 1);
  t.equal(tokens.mirrorStats()!.tokens, 1);
  await tokens.settled();
  store.close();

  const second = mirrored();
  second.tokens.groupCommits();
  second.store.close();
  await second.tokens.mirrorLoaded(); // the loader's first turn finds the store closed, and nothing throws
  t.equal(second.tokens.mirrorStats()!.tokens, 0);
});

t.test('the loader gives up at once when another connection holds the write lock', async (t) => {
  const { store, tokens, path } = mirrored();
  t.teardown(() => store.close());
  tokens.importMany([totpRecord('T', { user: 'alice' })], { replace: false, createUsers: true });
  const other = new Database(path);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  tokens.groupCommits();
  await tokens.mirrorLoaded(); // the loader's turn found the store busy and stopped (it throws nothing)
  t.equal(store.db.pragma('busy_timeout', { simple: true }), 5000, 'the connection waits for locks again as before');
  other.exec('COMMIT');
  t.match(tokens.mirrorStats(), { tokens: 0, clears: 0 });
  t.equal(tokens.forEnabledUser('alice')!.length, 1);
  t.match(tokens.mirrorStats(), { tokens: 1 }, 'held from the first request on');
});
