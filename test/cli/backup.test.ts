/**
 * `backup FILE`: a consistent copy of a running server's store (a code accepted just before is
 * in it, so a restore never accepts it again), 0600, never over an existing file.
 */
import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/open.js';
import { cli, cliWorkspace, interruptedRotation } from '../helpers/cli.js';
import { totpCode } from '../helpers/oathtool.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { fakeSealer, totpRecord } from '../helpers/store.js';

t.test('a copy taken while the server runs holds the code it just accepted', async (t) => {
  const s = await startTestServer({ extra: '[auth]\nprimary = "none"\n' });
  t.teardown(() => s.stop());
  const key = Buffer.from('3132333435363738393031323334353637383930', 'hex');
  s.server.store.tokens.importMany([totpRecord('B-1', { user: 'alice', secret: key })], { replace: false, createUsers: true });
  const code = totpCode(key.toString('hex'), Math.floor(Date.now() / 1000));
  const r = await radclient(s.v4, SECRET, `User-Name = "alice", User-Password = "${code}", NAS-Identifier = "gw", Message-Authenticator = 0x00`);
  t.equal(r.reply, 'Access-Accept');
  const copy = join(s.dir, 'copy.db');
  const made = await cli(['backup', copy, '--config', s.configFile]);
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /store copied to .*copy\.db \(1 tokens\).*master\.key: back that up too/);
  t.equal(statSync(copy).mode & 0o777, 0o600, 'password hashes and sealed secrets: the owner’s alone');
  const restored = openSqliteStore({ path: copy, sealer: fakeSealer, onSealError: () => {} });
  t.teardown(() => restored.close());
  t.equal(restored.tokens.get('B-1')?.lastStep, s.server.store.tokens.get('B-1')?.lastStep, 'the accepted step is in the copy');
  t.not(restored.tokens.get('B-1')?.lastStep, null);
  const again = await cli(['backup', copy, '--config', s.configFile]);
  t.equal(again.code, 1);
  t.match(again.stderr, /exists: give a new file/);
  const nowhere = await cli(['backup', join(s.dir, 'no-such-dir', 'copy.db'), '--config', s.configFile]);
  t.equal(nowhere.code, 1);
  t.match(nowhere.stderr, /backup to .*no-such-dir.* failed: ENOENT/);
  const json = await cli(['backup', join(s.dir, 'copy2.db'), '--config', s.configFile, '--json']);
  t.match(JSON.parse(json.stdout), { tokens: 1, key_file: join(s.dir, 'master.key') });
});

t.test('no store yet: nothing to back up, nothing created', async (t) => {
  const w = cliWorkspace();
  const r = await w.run(['backup', join(w.dir, 'copy.db')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /no store at .* to back up/);
  t.notOk(existsSync(join(w.dir, 'copy.db')));
  t.notOk(existsSync(join(w.dir, 'db')));
});

t.test('a key rotation interrupted before its rename is finished first: the copy opens with the key file it names', async (t) => {
  const w = await interruptedRotation(t);
  const copy = join(w.dir, 'copy.db');
  const r = await w.run(['backup', copy]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /a key rotation was interrupted after the store was sealed again: .*master\.key\.new renamed to .*master\.key/);
  t.notOk(existsSync(`${w.keyFile}.new`));
  const { Sealer } = await import('../../src/store/seal.js');
  const restored = openSqliteStore({ path: copy, sealer: Sealer.fromKeyFile(w.keyFile, { create: false }), onSealError: () => {} });
  t.teardown(() => restored.close());
  t.equal(restored.tokens.sealedByOtherKeys(), 0, 'the copy opens with the key file');
});

t.test('backup and a .new that is no finished rotation: a stale one is left alone; one behind a held lock is reported', async (t) => {
  const w = cliWorkspace();
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['enroll', 'alice', '--serial', 'R-1'])).code, 0);
  const { loadConfig } = await import('../../src/config/load.js');
  const { rotateKey } = await import('../../src/store/rotate-key.js');
  const { writeFileSync } = await import('node:fs');
  const config = loadConfig(w.config);
  writeFileSync(`${config.store.key_file}.new`, `${'ab'.repeat(32)}\n`, { mode: 0o600 }); // died before its commit
  const stale = await w.run(['backup', join(w.dir, 'one.db')]);
  t.equal(stale.code, 0, stale.stderr);
  t.equal(stale.stderr, '', 'nothing to finish, nothing said');
  t.ok(existsSync(`${config.store.key_file}.new`), 'left alone');
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  const lock = openSqliteStore({ path: config.store.path, sealer: fakeSealer, onSealError: () => {} });
  lock.db.exec('BEGIN IMMEDIATE');
  const held = await w.run(['backup', join(w.dir, 'two.db')]);
  lock.db.exec('ROLLBACK');
  lock.close();
  t.equal(held.code, 0);
  t.match(held.stderr, /a key rotation is unfinished: this copy opens only with .*master\.key\.new/);
});
