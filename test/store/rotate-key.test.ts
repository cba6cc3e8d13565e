/**
 * Key rotation (RELIABILITY S3): every secret sealed again under a new master key, recoverable
 * from a crash at any step, and refused before any change when it cannot be done whole.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { previousKeyFile, rotateKey } from '../../src/store/rotate-key.js';
import { Sealer } from '../../src/store/seal.js';
import { openSqliteStore } from '../../src/store/sqlite/open.js';
import { StoreError } from '../../src/store/types.js';
import { totpRecord } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

const SECRETS = [Buffer.from('12345678901234567890'), Buffer.from('abcdefghijabcdefghij'), Buffer.alloc(32, 7)];

/** A store with three tokens sealed under a key file, as `import` leaves it. */
function store(t: Tap.Test): { config: { store: { path: string; key_file: string } }; dir: string } {
  const dir = tempDir('radius-otp-rotate-');
  const config = { store: { path: join(dir, 'db', 'radius-otp.db'), key_file: join(dir, 'db', 'master.key') } };
  const s = openStore(config, () => {});
  s.tokens.importMany(SECRETS.map((secret, i) => totpRecord(`R-${i}`, { user: 'alice', secret })), { replace: false, createUsers: true });
  s.close();
  t.ok(existsSync(config.store.key_file));
  return { config, dir };
}

/** The secrets as the store opens them now (every token, in id order). */
function secrets(config: { store: { path: string; key_file: string } }): Buffer[] {
  const s = openStore(config, () => {});
  try {
    return s.tokens.forUser('alice').map((o) => Buffer.from(o.secret));
  } finally {
    s.close();
  }
}

const keyIdOfFile = (path: string): number => Sealer.fromKeyFile(path, { create: false }).keyId;

t.test('rotate: every secret sealed again under a new key; the previous key kept 0600 for older backups', async (t) => {
  const { config } = store(t);
  const before = keyIdOfFile(config.store.key_file);
  const oldKey = readFileSync(config.store.key_file, 'utf8');
  const r = rotateKey(config);
  t.equal(r.tokens, 3);
  t.equal(r.previousKeyId, before);
  t.not(r.keyId, before);
  t.equal(keyIdOfFile(config.store.key_file), r.keyId, 'the key file holds the new key');
  t.equal(r.previousKeyFile, previousKeyFile(config.store.key_file, before));
  t.match(r.previousKeyFile, /master\.key\.[0-9a-f]{8}$/);
  t.equal(readFileSync(r.previousKeyFile, 'utf8'), oldKey, 'the previous key, as it was');
  t.equal(statSync(r.previousKeyFile).mode & 0o777, 0o600);
  t.equal(statSync(config.store.key_file).mode & 0o777, 0o600);
  t.notOk(existsSync(`${config.store.key_file}.new`), 'no .new left');
  t.same(secrets(config), SECRETS, 'every secret opens with the new key, unchanged');
  const s = openStore(config, () => {});
  t.equal(s.tokens.sealedByOtherKeys(), 0);
  t.equal(s.tokens.sealedByOtherKeys(before), 3, 'none is sealed with the previous key any more');
  s.close();
  const again = rotateKey(config);
  t.equal(again.previousKeyId, r.keyId, 'a second rotation starts from the first one’s key');
  t.same(secrets(config), SECRETS);
});

t.test('secrets sealed ahead of the lock: one replaced and one added meanwhile are sealed under it; the rest are written as prepared', async (t) => {
  const { config } = store(t);
  const replaced = Buffer.from('replaced-meanwhile-1');
  const added = Buffer.from('added-meanwhile-2020');
  const inPlace = Buffer.from('changed-in-place-202');
  const r = rotateKey(config, {
    beforeLock: () => {
      const beside = openStore(config, () => {}); // another command, still under the old key
      beside.tokens.importMany([totpRecord('R-1', { user: 'alice', secret: replaced })], { replace: true, createUsers: false });
      beside.tokens.importMany([totpRecord('R-9', { user: 'alice', secret: added })], { replace: false, createUsers: false });
      // R-0's secret changed in place (same row id): its prepared blob no longer applies.
      const id = beside.tokens.get('R-0')!.id;
      const old = Sealer.fromKeyFile(config.store.key_file, { create: false });
      beside.db.prepare('UPDATE tokens SET secret = ? WHERE id = ?').run(old.seal(id, inPlace), id);
      beside.close();
    },
  });
  t.equal(r.tokens, 4);
  t.same(secrets(config), [inPlace, SECRETS[2], replaced, added], 'each opens with the new key (R-1 took a new id)');
  const s = openStore(config, () => {});
  t.equal(s.tokens.sealedByOtherKeys(), 0);
  s.close();
});

t.test('prepareReseal leaves out a secret its key does not open; the rotation then refuses whole', async (t) => {
  const { config } = store(t);
  const foreign = Sealer.forTests(Buffer.alloc(32, 9));
  const raw = openSqliteStore({ path: config.store.path, sealer: foreign, onSealError: () => {} });
  const id = raw.tokens.get('R-2')!.id;
  raw.db.prepare('UPDATE tokens SET secret = ? WHERE id = ?').run(foreign.seal(id, SECRETS[2]!), id);
  raw.close();
  const s = openStore(config, () => {});
  t.teardown(() => s.close());
  t.same([...s.tokens.prepareReseal(Sealer.generate()).keys()].length, 2, 'the two that open');
  t.throws(() => rotateKey(config), { code: 'key-file', message: /^1 token secret\(s\) in .* are not sealed with/ });
});

t.test('a crash after the store committed, before the rename: the next open finishes the rotation', async (t) => {
  const { config } = store(t);
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  const pending = `${config.store.key_file}.new`;
  t.ok(existsSync(pending), 'the new key is still in .new');
  const notices: string[] = [];
  const s = openStore(config, () => {}, (n) => notices.push(n));
  t.equal(s.tokens.sealedByOtherKeys(), 0, 'the store opens whole');
  s.close();
  t.same(notices, [`a key rotation was interrupted after the store was sealed again: ${pending} renamed to ${config.store.key_file}`]);
  t.notOk(existsSync(pending));
  t.same(secrets(config), SECRETS);
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  openStore(config, () => {}).close(); // a command: finished without a word
  t.notOk(existsSync(pending), 'finished by any open of the store');
  t.same(secrets(config), SECRETS);
});

t.test('a crash before the commit: the store is as it was; a stale .new is replaced by the next rotation and never taken', async (t) => {
  const { config } = store(t);
  const before = keyIdOfFile(config.store.key_file);
  writeFileSync(`${config.store.key_file}.new`, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  const notices: string[] = [];
  openStore(config, () => {}, (n) => notices.push(n)).close();
  t.same(notices, [], 'the key file opens the store: .new is not taken');
  t.equal(keyIdOfFile(config.store.key_file), before);
  const r = rotateKey(config);
  t.not(r.keyId, Sealer.forTests(Buffer.from('ab'.repeat(32), 'hex')).keyId, 'a fresh key, not the stale one');
  t.same(secrets(config), SECRETS);
});

t.test('refused before any change: secrets of another key, a previous-key copy holding another key', async (t) => {
  const { config } = store(t);
  const before = keyIdOfFile(config.store.key_file);
  // A copy from an earlier rotation with the same name but another key (moved in by hand).
  writeFileSync(previousKeyFile(config.store.key_file, before), `${'cd'.repeat(32)}\n`, { mode: 0o600 });
  t.throws(() => rotateKey(config), { message: /exists and holds another key: move it away first/ });
  t.equal(keyIdOfFile(config.store.key_file), before, 'the key file is unchanged');
  t.same(secrets(config), SECRETS, 'and the store');

  const other = store(t);
  // One secret sealed with a key this store does not have (a store restored without its key).
  const foreign = Sealer.forTests(Buffer.alloc(32, 9));
  const raw = openSqliteStore({ path: other.config.store.path, sealer: foreign, onSealError: () => {} });
  const id = raw.tokens.get('R-1')!.id;
  raw.db.prepare('UPDATE tokens SET secret = ? WHERE id = ?').run(foreign.seal(id, SECRETS[1]!), id);
  raw.close();
  t.throws(() => rotateKey(other.config), {
    code: 'key-file',
    message: /^1 token secret\(s\) in .* are not sealed with .*master\.key: they would not open to be sealed again \(nothing was changed\)$/,
  });
  t.same(readdirSync(join(other.dir, 'db')).filter((f) => f.startsWith('master.key')), ['master.key'], 'no key file written');
  // A .new beside it that opens none of them either: not taken for an interrupted rotation.
  writeFileSync(`${other.config.store.key_file}.new`, `${'ef'.repeat(32)}\n`, { mode: 0o600 });
  const notices: string[] = [];
  openStore(other.config, () => {}, (n) => notices.push(n)).close();
  t.same(notices, []);
  t.ok(existsSync(`${other.config.store.key_file}.new`), 'left where it is');
});

t.test('an import that read the key before a rotation committed stores nothing', async (t) => {
  const { config } = store(t);
  const s = openStore(config, () => {}); // a command that started before the rotation
  t.teardown(() => s.close());
  rotateKey(config);
  t.throws(() => s.tokens.importMany([totpRecord('LATE', { user: 'alice' })], { replace: false, createUsers: false }), {
    code: 'key-file',
    message: /sealed with another master key than this command read .* nothing was stored; run it again/,
  });
  t.equal(s.tokens.get('LATE'), undefined);
});

t.test('an empty store: the rotation renames under the lock; an import that read the old key stores nothing', async (t) => {
  const dir = tempDir('radius-otp-rotate-');
  const config = { store: { path: join(dir, 'db', 'radius-otp.db'), key_file: join(dir, 'db', 'master.key') } };
  const s = openStore(config, () => {}); // a first import, started before the rotation
  t.teardown(() => s.close());
  const before = keyIdOfFile(config.store.key_file);
  let renamedBeforeCommit: boolean | undefined;
  const r = rotateKey(config, { afterCommit: () => (renamedBeforeCommit = keyIdOfFile(config.store.key_file) !== before) });
  t.equal(r.tokens, 0);
  t.equal(renamedBeforeCommit, true, 'the key file held the new key when the transaction committed');
  t.notOk(existsSync(`${config.store.key_file}.new`));
  t.ok(existsSync(previousKeyFile(config.store.key_file, before)), 'the previous key kept, as for any rotation');
  t.throws(() => s.tokens.importMany([totpRecord('FIRST')], { replace: false, createUsers: false }), {
    code: 'key-file',
    message: /^the master key file no longer holds the key this command read \(a key rotate since it started\?\): nothing was stored; run it again$/,
  });
  t.equal(s.tokens.count(), 0, 'nothing was stored');
  const again = openStore(config, () => {}); // run again: reads the new key
  again.tokens.importMany([totpRecord('FIRST', { user: 'alice' })], { replace: false, createUsers: true });
  again.close();
  t.same(secrets(config), [Buffer.from('12345678901234567890')], 'the import sealed with the key on disk');

  const empty = { store: { path: join(dir, 'db2', 'radius-otp.db'), key_file: join(dir, 'db2', 'master.key') } };
  const e = openStore(empty, () => {});
  t.teardown(() => e.close());
  rmSync(empty.store.key_file);
  t.throws(() => e.tokens.importMany([totpRecord('GONE')], { replace: false, createUsers: false }), { message: /no longer holds the key/ }, 'a key file gone since: nothing is sealed with a key no file holds');
  t.equal(e.tokens.count(), 0);
});

t.test('a rotation that runs while another has committed but not renamed: one ends consistent, the other says why', async (t) => {
  const { config } = store(t);
  let inner: ReturnType<typeof rotateKey> | undefined;
  t.throws(
    () => rotateKey(config, { afterCommit: () => void (inner = rotateKey(config)) }),
    { code: 'key-file', message: /^cannot rename .*master\.key\.new to .*master\.key \(ENOENT\)$/ },
    'the first finds its rename done by the second’s open of the store',
  );
  t.ok(inner);
  t.equal(keyIdOfFile(config.store.key_file), inner!.keyId, 'the key file holds the second rotation’s key');
  t.same(secrets(config), SECRETS, 'and it opens every secret');
});

t.test('the commit is on disk before the rename: the rotation commits with synchronous = FULL', async (t) => {
  const { config } = store(t);
  let synchronous: unknown;
  // Even for a store configured to sync less.
  rotateKey({ store: { ...config.store, synchronous: 'normal' } }, { afterCommit: (s) => void (synchronous = s.db.pragma('synchronous', { simple: true })) });
  t.equal(synchronous, 2, 'FULL');
});

t.test('ownership: as root, the new key file and the copy get the key file’s owner; another user is refused', async (t) => {
  const { config, dir } = store(t);
  const { chownSync, symlinkSync, mkdirSync, lstatSync, readlinkSync } = await import('node:fs');
  if (process.getuid?.() === 0) {
    chownSync(config.store.key_file, 4321, 4322);
    const r = rotateKey(config);
    for (const f of [config.store.key_file, r.previousKeyFile]) t.match(statSync(f), { uid: 4321, gid: 4322 }, f);
  }
  const getuid = process.getuid;
  process.getuid = () => 9999;
  t.teardown(() => void (process.getuid = getuid));
  const before = keyIdOfFile(config.store.key_file);
  t.throws(() => rotateKey(config), { code: 'key-file', message: /master\.key belongs to uid \d+: run key rotate as that user \(or as root\)$/ });
  t.equal(keyIdOfFile(config.store.key_file), before, 'nothing changed');
  process.getuid = getuid;

  // A key file that is a symbolic link to another volume: rotated where it points.
  const vault = join(dir, 'vault');
  mkdirSync(vault, { mode: 0o700 });
  const real = join(vault, 'master.key');
  writeFileSync(real, readFileSync(config.store.key_file), { mode: 0o600 });
  rmSync(config.store.key_file);
  symlinkSync(real, config.store.key_file);
  const r = rotateKey(config);
  t.ok(lstatSync(config.store.key_file).isSymbolicLink(), 'the link is still a link');
  t.equal(readlinkSync(config.store.key_file), real);
  t.equal(keyIdOfFile(real), r.keyId, 'the key it points to is the new one');
  t.equal(r.previousKeyFile, previousKeyFile(real, r.previousKeyId), 'the copy is beside it');
  t.same(secrets(config), SECRETS);
});

t.test('an interrupted rotation is not finished while another holds the store’s write lock', async (t) => {
  const { config } = store(t);
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  const busy = openSqliteStore({ path: config.store.path, sealer: Sealer.forTests(Buffer.alloc(32)), onSealError: () => {} });
  busy.db.pragma('busy_timeout = 0');
  busy.db.exec('BEGIN IMMEDIATE');
  const notices: string[] = [];
  const waiting = openStore({ store: { ...config.store } }, () => {}, (n) => notices.push(n));
  t.same(notices, [], 'left for later');
  t.ok(existsSync(`${config.store.key_file}.new`));
  waiting.close();
  busy.db.exec('ROLLBACK');
  busy.close();
  openStore(config, () => {}, (n) => notices.push(n)).close();
  t.equal(notices.length, 1, 'finished by the next open');
  t.same(secrets(config), SECRETS);
});

t.test('an interrupted rotation whose .new cannot be read, or whose rename fails: left, or an error with the store closed', async (t) => {
  const { config } = store(t);
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  const pending = `${config.store.key_file}.new`;
  const { chmodSync } = await import('node:fs');
  chmodSync(pending, 0o644); // a key file others may read is not read
  const notices: string[] = [];
  openStore(config, () => {}, (n) => notices.push(n)).close();
  t.same(notices, [], 'not finished');
  chmodSync(pending, 0o600);
  const fs = await import('node:fs');
  const seal = await import('../../src/store/seal.js');
  const mocked = await t.mockImport<typeof import('../../src/store/open.js')>('../../src/store/open.js', {
    '../../src/store/seal.js': { ...seal, renameKeyFile: () => { throw new StoreError('key-file', 'cannot rename (EROFS)'); } },
  });
  t.throws(() => mocked.openStore(config, () => {}), { message: 'cannot rename (EROFS)' });
  // Closed: the next open takes the write lock at once and finishes the rotation.
  openStore(config, () => {}, (n) => notices.push(n)).close();
  t.equal(notices.length, 1);
  t.ok(fs.existsSync(config.store.key_file));
  t.same(secrets(config), SECRETS);
});

t.test('pendingRotation (backup’s read-only check too): only a store that .new alone opens', async (t) => {
  const { openStoreReadOnly, pendingRotation } = await import('../../src/store/open.js');
  const { config } = store(t);
  const pending = `${config.store.key_file}.new`;
  const check = (): ReturnType<typeof pendingRotation> => {
    const ro = openStoreReadOnly(config)!;
    try {
      return pendingRotation(ro, config.store.key_file);
    } finally {
      ro.close();
    }
  };
  t.equal(check(), null, 'no .new');
  writeFileSync(pending, 'not a key\n', { mode: 0o600 });
  t.equal(check(), null, 'a .new that is no key');
  rmSync(pending);
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  t.match(check(), { file: pending, target: config.store.key_file, keyId: keyIdOfFile(pending) }, 'interrupted after its commit');
  openStore(config, () => {}).close();
  t.equal(check(), null, 'finished');
  const empty = openSqliteStore({ path: join(tempDir('radius-otp-empty-'), 'e.db'), sealer: Sealer.forTests(Buffer.alloc(32)), onSealError: () => {} });
  t.teardown(() => empty.close());
  t.notOk(empty.tokens.sealedOnlyWith(Sealer.forTests(Buffer.alloc(32)).keyId), 'an empty store is sealed with no key');
});
