import t from 'tap';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openStoreReadOnly } from '../../src/store/open.js';
import { openSqliteStore } from '../../src/store/sqlite/open.js';
import { StoreError } from '../../src/store/types.js';
import { fakeSealer, tempStore, totpRecord } from '../helpers/store.js';

t.test('users: add, password, list, enable, groups, delete', async (t) => {
  const { store, path } = tempStore({ now: () => 1000 });
  t.teardown(() => store.close());
  t.equal(statSync(path).mode & 0o777, 0o600, 'database file is 0600');
  t.ok(store.users.add('alice', 'hash-a'));
  t.notOk(store.users.add('alice', 'other'), 'no duplicate');
  t.ok(store.users.ensure('bob'), 'ensure creates');
  t.notOk(store.users.ensure('bob'), 'ensure is idempotent');
  t.same(store.users.get('alice'), { name: 'alice', hasPassword: true, enabled: true, createdAt: 1000 });
  t.same(store.users.get('bob')?.hasPassword, false);
  t.equal(store.users.passwordHash('alice'), 'hash-a');
  t.equal(store.users.passwordHash('bob'), null);
  t.equal(store.users.passwordHash('nobody'), null);
  t.ok(store.users.setPassword('alice', 'hash-b'));
  t.notOk(store.users.setPassword('nobody', 'x'));
  t.equal(store.users.passwordHash('alice'), 'hash-b');
  t.ok(store.users.setEnabled('alice', false));
  t.equal(store.users.get('alice')?.enabled, false);
  t.ok(store.users.isDisabled('alice'));
  t.ok(store.users.setEnabled('alice', true));
  t.equal(store.users.get('alice')?.enabled, true);
  t.notOk(store.users.isDisabled('alice'));
  t.notOk(store.users.isDisabled('nobody'), 'an unknown user is not a disabled one');
  t.ok(store.users.addToGroup('alice', 'vpn'));
  t.notOk(store.users.addToGroup('alice', 'vpn'));
  t.same(store.users.groups('alice'), ['vpn']);
  t.ok(store.users.removeFromGroup('alice', 'vpn'));
  t.same(store.users.groups('alice'), []);
  t.same(store.users.list().map((u) => u.name), ['alice', 'bob']);
  t.ok(store.users.delete('alice'));
  t.notOk(store.users.delete('alice'));
  t.equal(store.users.get('alice'), undefined);
});

t.test('tokens: import all or nothing, with serial and user checks', async (t) => {
  const { store } = tempStore({ now: () => 50 });
  t.teardown(() => store.close());
  store.users.add('alice', null);
  const progress: number[] = [];
  const r = store.tokens.importMany([totpRecord('T1', { user: 'alice' }), totpRecord('T2')], { replace: false, createUsers: false }, (n) =>
    progress.push(n),
  );
  t.same(r, { inserted: 2, replaced: 0, usersCreated: 0 });
  t.same(progress, [2]);
  t.throws(() => store.tokens.importMany([totpRecord('T3'), totpRecord('T1')], { replace: false, createUsers: false }), {
    code: 'serial-exists',
    details: ['T1'],
  });
  t.equal(store.tokens.get('T3'), undefined, 'nothing of the refused import is written');
  t.throws(() => store.tokens.importMany([totpRecord('T4', { user: 'zed' })], { replace: false, createUsers: false }), {
    code: 'unknown-user',
    details: ['zed'],
  });
  t.equal(store.tokens.get('T4'), undefined);
  const created = store.tokens.importMany([totpRecord('T4', { user: 'zed' }), totpRecord('T5', { user: 'zed' })], {
    replace: false,
    createUsers: true,
  });
  t.same(created, { inserted: 2, replaced: 0, usersCreated: 1 });
  const replaced = store.tokens.importMany([totpRecord('T1', { digits: 8, secret: Buffer.alloc(20, 7) })], {
    replace: true,
    createUsers: false,
  });
  t.same(replaced, { inserted: 0, replaced: 1, usersCreated: 0 });
  t.equal(store.tokens.get('T1')?.digits, 8);
  t.same(store.tokens.withSecret('T1')?.secret, Buffer.alloc(20, 7));
  t.same(store.tokens.existingSerials(['T1', 'nope']), ['T1']);
  t.same(
    store.tokens.list().map((x) => x.serial),
    ['T1', 'T2', 'T4', 'T5'],
  );
  t.same(
    store.tokens.list({ user: 'zed' }).map((x) => x.serial),
    ['T4', 'T5'],
  );
  const t4 = store.tokens.get('T4');
  t.match(t4, { type: 'totp', algorithm: 'SHA1', period: 30, lastStep: null, failures: 0, enabled: true, user: 'zed', createdAt: 50 });
  t.equal(store.tokens.withSecret('nope'), undefined);
});

t.test('tokens: an import seals before the lock; a token added meanwhile moves its ids, and it seals again', async (t) => {
  const { store, path } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('OLD')], { replace: false, createUsers: false });
  const records = Array.from({ length: 1001 }, (_, i) => totpRecord(`N${i}`, { secret: Buffer.from(`secret-of-${i}-padded-to-20`) }));
  const beside = openSqliteStore({ path, sealer: fakeSealer, onSealError: () => {} });
  t.teardown(() => beside.close());
  const progress: number[] = [];
  const r = store.tokens.importMany(records, { replace: false, createUsers: false }, (done) => {
    // Sealed for ids 2..1002 so far; another command takes id 2 before the write lock is taken.
    if (progress.length === 0) beside.tokens.importMany([totpRecord('BESIDE', { secret: Buffer.from('beside-secret-2020202') })], { replace: false, createUsers: false });
    progress.push(done);
  });
  t.same(r, { inserted: 1001, replaced: 0, usersCreated: 0 });
  t.same(progress, [1000, 1001], 'progress while sealing (the second pass, under the lock, says nothing), then once written');
  t.equal(store.tokens.get('BESIDE')?.id, 2, 'the token added beside kept its id');
  t.equal(store.tokens.get('N0')?.id, 3, 'the import took the ids after it');
  for (const i of [0, 500, 1000]) t.same(store.tokens.withSecret(`N${i}`)?.secret, records[i]!.secret, `N${i} opens with its own id`);
  t.same(store.tokens.withSecret('BESIDE')?.secret, Buffer.from('beside-secret-2020202'));
  t.same(store.tokens.withSecret('OLD')?.secret, Buffer.from('12345678901234567890'));
});

t.test('tokens: records keep optional fields', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany(
    [totpRecord('H1', { type: 'hotp', counter: 5, issuer: 'ACME', manufacturer: 'Token Co', model: 'K1', validFrom: 10, validUntil: 20 })],
    { replace: false, createUsers: false },
  );
  t.match(store.tokens.get('H1'), { type: 'hotp', counter: 5, issuer: 'ACME', manufacturer: 'Token Co', model: 'K1', validFrom: 10, validUntil: 20 });
});

t.test('tokens: assign, enable, unlock, delete', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A'), totpRecord('B')], { replace: false, createUsers: false });
  t.ok(store.tokens.assign('A', 'alice'));
  t.ok(store.tokens.assign('B', 'alice'));
  t.notOk(store.tokens.assign('nope', 'alice'));
  t.same(
    store.tokens.forUser('alice').map((x) => [x.token.serial, x.secret.toString()]),
    [
      ['A', '12345678901234567890'],
      ['B', '12345678901234567890'],
    ],
  );
  t.ok(store.tokens.setEnabled('A', false));
  t.equal(store.tokens.get('A')?.enabled, false);
  t.notOk(store.tokens.setEnabled('nope', true));
  const id = store.tokens.get('A')!.id;
  t.equal(store.tokens.recordFailure(id, 100, 2), 1);
  t.equal(store.tokens.get('A')?.lockedAt, null);
  t.equal(store.tokens.recordFailure(id, 101, 2), 2);
  t.equal(store.tokens.get('A')?.lockedAt, 101, 'locked when the count reaches the limit');
  t.equal(store.tokens.recordFailure(id, 102, 2), 3);
  t.equal(store.tokens.get('A')?.lockedAt, 101, 'the lock time is not moved');
  t.equal(store.tokens.recordFailure(9999, 102, 2), 0, 'unknown id');
  t.ok(store.tokens.unlock('A'));
  t.match(store.tokens.get('A'), { failures: 0, lockedAt: null });
  store.tokens.recordFailure(id, 103, 2);
  t.equal(store.tokens.unlockAll('alice'), 2);
  t.equal(store.tokens.get('A')?.failures, 0);
  t.equal(store.tokens.unassignAll('alice'), 2);
  t.same(store.tokens.forUser('alice'), []);
  t.ok(store.tokens.delete('A'));
  t.notOk(store.tokens.delete('A'));
  t.notOk(store.tokens.unlock('A'));
});

t.test('tokens: forEnabledUser is forUser, or null for a disabled user (with tokens or none)', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  store.users.add('alice', null);
  store.users.add('bob', null);
  store.tokens.importMany([totpRecord('A', { user: 'alice' }), totpRecord('B', { user: 'alice' }), totpRecord('D')], { replace: false, createUsers: false });
  store.tokens.assign('D', 'dir-user');
  t.same(store.tokens.forEnabledUser('alice'), store.tokens.forUser('alice'));
  t.same(store.tokens.forEnabledUser('alice')?.map((x) => x.token.serial), ['A', 'B']);
  t.same(store.tokens.forEnabledUser('bob'), [], 'enabled, no token');
  t.same(store.tokens.forEnabledUser('nobody'), [], 'unknown: not disabled');
  t.same(store.tokens.forEnabledUser('dir-user')?.map((x) => x.token.serial), ['D'], 'a directory user (no users row) with a token');
  store.users.setEnabled('alice', false);
  store.users.setEnabled('bob', false);
  t.equal(store.tokens.forEnabledUser('alice'), null);
  t.equal(store.tokens.forEnabledUser('bob'), null, 'disabled, no token');
});

t.test('tokens: the replay guard is one compare-and-set', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('T'), totpRecord('H', { type: 'hotp' })], { replace: false, createUsers: false });
  const totp = store.tokens.get('T')!;
  store.tokens.recordFailure(totp.id, 1, 10);
  t.ok(store.tokens.commitTotp(totp.id, 100, 1, 3000), 'first use of step 100');
  t.notOk(store.tokens.commitTotp(totp.id, 100, 1, 3001), 'step 100 again is a replay');
  t.notOk(store.tokens.commitTotp(totp.id, 99, 0, 3001), 'an earlier step after a later one');
  t.match(store.tokens.get('T'), { lastStep: 100, drift: 1, failures: 0, lastUsedAt: 3000 });
  t.ok(store.tokens.commitTotp(totp.id, 101, 0, 3030));
  const hotp = store.tokens.get('H')!;
  t.ok(store.tokens.commitHotp(hotp.id, 4, 10));
  t.notOk(store.tokens.commitHotp(hotp.id, 4, 11), 'same counter again');
  t.notOk(store.tokens.commitHotp(hotp.id, 2, 11), 'an earlier counter');
  t.equal(store.tokens.get('H')?.counter, 4);
  store.tokens.resync(hotp.id, { drift: 0, lastStep: null, counter: 40 });
  t.equal(store.tokens.get('H')?.counter, 40);
  store.tokens.resync(totp.id, { drift: -3, lastStep: 200, counter: 0 });
  t.match(store.tokens.get('T'), { drift: -3, lastStep: 200 });
});

t.test('tokens: a secret that fails to unseal fails the user’s lookup and is reported (fail closed)', async (t) => {
  const errors: string[] = [];
  const { store } = tempStore({ onSealError: (serial) => errors.push(serial) });
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('A', { user: 'u' }), totpRecord('B', { user: 'u' })], { replace: false, createUsers: true });
  // Move A's sealed secret onto B's row: it is bound to A's id, so it must not open there.
  const a = store.db.prepare("SELECT secret FROM tokens WHERE serial = 'A'").pluck().get() as Buffer;
  store.db.prepare("UPDATE tokens SET secret = ? WHERE serial = 'B'").run(a);
  t.throws(() => store.tokens.forUser('u'), { code: 'seal-failed' }, 'not A alone: the user is refused');
  t.same(errors, ['B']);
  t.equal(store.tokens.withSecret('B'), undefined);
  t.equal(store.tokens.withSecret('A')?.token.serial, 'A', 'A itself still opens');
});

t.test('tokens: --replace renews the secret and keeps owner, enabled flag, lock and used codes', async (t) => {
  const { store } = tempStore({ now: () => 1000 });
  t.teardown(() => store.close());
  store.tokens.importMany([totpRecord('T', { user: 'alice' }), totpRecord('H', { user: 'alice', type: 'hotp', counter: 5 })], { replace: false, createUsers: true });
  const t0 = store.tokens.get('T')!;
  t.ok(store.tokens.commitTotp(t0.id, 100, 0, 1000), 'step 100 accepted');
  t.ok(store.tokens.commitHotp(store.tokens.get('H')!.id, 9, 1000), 'counter 9 accepted');
  store.tokens.setEnabled('T', false);
  for (let i = 0; i < 3; i++) store.tokens.recordFailure(t0.id, 1000, 3);

  // The same secrets again, the HOTP file's counter behind the store's, no owner in the file.
  store.tokens.importMany([totpRecord('T', { digits: 8 }), totpRecord('H', { type: 'hotp', counter: 2 })], { replace: true, createUsers: false });
  const t1 = store.tokens.get('T')!;
  t.match(t1, { digits: 8, user: 'alice', enabled: false, failures: 3 }, 'renewed, and still alice’s, disabled and locked');
  t.not(t1.lockedAt, null);
  t.notOk(store.tokens.commitTotp(t1.id, 101, 0, 1001), 'locked: not even a later step (RFC 4226 §7.3)');
  store.tokens.unlock('T');
  t.notOk(store.tokens.commitTotp(t1.id, 100, 0, 1001), 'step 100 stays used (RFC 6238 §5.2)');
  t.ok(store.tokens.commitTotp(t1.id, 101, 0, 1001), 'a later step is accepted once unlocked');
  const h = store.tokens.get('H')!;
  t.equal(h.counter, 9, 'the HOTP counter does not go back to the file’s 2 (RFC 4226 §7.2)');
  t.notOk(store.tokens.commitHotp(h.id, 9, 1001), 'counter 9 stays used');

  // A file that names a user moves the token to that user.
  store.tokens.importMany([totpRecord('T', { user: 'bob' })], { replace: true, createUsers: true });
  t.equal(store.tokens.get('T')?.user, 'bob');
});

t.test('challenges: single use, expiry, purge, only a hash stored', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  const state = Buffer.from('0123456789abcdef');
  store.challenges.create(state, { user: 'alice', client: 'gw', groups: ['g'], createdAt: 100, expiresAt: 400 });
  const raw = store.db.prepare('SELECT state_hash FROM challenges').pluck().get() as Buffer;
  t.notSame(raw, state, 'the raw State is not stored');
  t.same(store.challenges.take(state, 'alice', 'gw', 200), { challenge: { user: 'alice', client: 'gw', groups: ['g'], createdAt: 100, expiresAt: 400 }, expired: false });
  t.equal(store.challenges.take(state, 'alice', 'gw', 200), undefined, 'answerable once');
  store.challenges.create(state, { user: 'alice', client: 'gw', groups: ['g'], createdAt: 100, expiresAt: 400 });
  t.equal(store.challenges.take(state, 'alice', 'gw', 400)?.expired, true);
  store.challenges.create(Buffer.from('a'), { user: 'a', client: 'gw', groups: ['g'], createdAt: 1, expiresAt: 10 });
  store.challenges.create(Buffer.from('b'), { user: 'b', client: 'gw', groups: ['g'], createdAt: 1, expiresAt: 20 });
  t.equal(store.challenges.purgeExpired(15), 1);
  t.equal(store.challenges.take(Buffer.from('b'), 'alice', 'gw', 16), undefined, 'made for b: not alice’s to answer');
  t.equal(store.challenges.take(Buffer.from('b'), 'b', 'other-nas', 16), undefined, 'sent to gw: not another NAS’s to answer');
  t.ok(store.challenges.take(Buffer.from('b'), 'b', 'gw', 16), 'and not spent by those tries: b still answers it through gw');
});

t.test('app passwords: create, list, hashes, touch, revoke', async (t) => {
  const { store } = tempStore({ now: () => 7 });
  t.teardown(() => store.close());
  const a = store.appPasswords.create('alice', 'mail', 'h1');
  const b = store.appPasswords.create('alice', 'wifi', 'h2');
  t.same(a, { id: a.id, user: 'alice', label: 'mail', createdAt: 7, lastUsedAt: null });
  t.same(store.appPasswords.hashes('alice'), [
    { id: a.id, hash: 'h1' },
    { id: b.id, hash: 'h2' },
  ]);
  store.appPasswords.touch(a.id, 99);
  t.equal(store.appPasswords.list('alice')[0]?.lastUsedAt, 99);
  t.ok(store.appPasswords.revoke('alice', a.id));
  t.notOk(store.appPasswords.revoke('bob', b.id), 'only the owner’s');
  t.equal(store.appPasswords.revokeAll('alice'), 1);
  t.same(store.appPasswords.list('alice'), []);
});

t.test('a store that cannot be opened is a StoreError', async (t) => {
  const { store, path } = tempStore();
  store.close();
  // The database file used as a directory: mkdir fails with ENOTDIR.
  t.throws(() => openSqliteStore({ path: `${path}/x.db`, sealer: fakeSealer, onSealError: () => {} }), StoreError);
  const mem = openSqliteStore({ path: ':memory:', sealer: fakeSealer, onSealError: () => {} });
  t.same(mem.users.list(), []);
  mem.close();
});

t.test('reopening keeps data and does not migrate twice', async (t) => {
  const { store, path } = tempStore();
  store.users.add('x', null);
  store.close();
  const again = openSqliteStore({ path, sealer: fakeSealer, onSealError: () => {} });
  t.teardown(() => again.close());
  t.ok(again.users.get('x'));
});

t.test('read-only (a dry run): nothing created, nothing written, no key read', async (t) => {
  const { store, dir, path } = tempStore();
  store.tokens.importMany([totpRecord('RO-1', { user: 'ro' })], { replace: false, createUsers: true });
  store.close();
  t.equal(openStoreReadOnly({ store: { path: join(dir, 'none', 'x.db'), key_file: join(dir, 'none', 'x.key') } }), undefined, 'no database: no store');
  const listing = readdirSync(dirname(path));
  const ro = openStoreReadOnly({ store: { path, key_file: join(dir, 'missing.key') } })!;
  t.same(ro.tokens.existingSerials(['RO-1', 'RO-2']), ['RO-1']);
  t.ok(ro.users.get('ro'));
  t.equal(ro.tokens.withSecret('RO-1'), undefined, 'no key: no secret opens');
  t.throws(() => ro.users.add('new', null), /readonly/);
  ro.close();
  t.same(readdirSync(dirname(path)), listing, 'no -wal/-shm left behind');
  t.same(readdirSync(dir), ['db'], 'no key file, no other directory');
});

t.test('read-only, a store of the first schema version: read as it stands, migrated by the next writer', async (t) => {
  const { store, path } = tempStore();
  store.tokens.importMany([totpRecord('OLD-1', { user: 'old' })], { replace: false, createUsers: true });
  // As a store made before client_ma (migration 2) and reject_writes (migration 3) were added.
  store.db.exec('DROP TABLE client_ma; DROP TABLE reject_writes');
  store.db.pragma('user_version = 1');
  store.close();
  const ro = openStoreReadOnly({ store: { path, key_file: `${path}.key` } })!;
  t.same(ro.tokens.existingSerials(['OLD-1']), ['OLD-1']);
  t.equal(ro.db.pragma('user_version', { simple: true }), 1, 'not migrated');
  t.same(ro.clientMa.list('s'), [], 'no client_ma table: no auto client decided (client list)');
  ro.close();
  const rw = openSqliteStore({ path, sealer: fakeSealer, onSealError: () => {} });
  t.teardown(() => rw.close());
  t.equal(rw.db.pragma('user_version', { simple: true }), 3);
  rw.clientMa.record('s', 'c', 'yes', 1);
  t.same(rw.clientMa.list('s'), [{ client: 'c', ma: 'yes', decidedAt: 1 }]);
  t.equal(rw.db.prepare('SELECT count FROM reject_writes').pluck().get(), 0, 'reject_writes made, with its row');
});

t.test('a store from a later radius-otp (a higher schema version) is refused, read-only too', async (t) => {
  const { store, path } = tempStore();
  store.db.pragma('user_version = 99');
  store.close();
  t.throws(() => openSqliteStore({ path, sealer: fakeSealer, onSealError: () => {} }), { code: 'database', message: /schema version 99 is newer than this radius-otp knows \(\d+\)/ });
  t.throws(() => openStoreReadOnly({ store: { path, key_file: `${path}.key` } }), { code: 'database', message: /schema version 99/ });
});
