import t from 'tap';
import * as fs from 'node:fs';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Sealer } from '../../src/store/seal.js';
import { StoreError } from '../../src/store/types.js';

const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const otherKey = Buffer.alloc(32, 0x5a);
const secret = Buffer.from('12345678901234567890');

/** Every message and detail of every error these tests provoke, checked at the end for key material. */
const messages: string[] = [];
const keyHexes = new Set<string>([key.toString('hex'), otherKey.toString('hex')]);
function caught(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    const e = err as StoreError;
    messages.push(e.message, ...(e.details ?? []));
    return e;
  }
  throw new Error('expected a throw');
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'seal-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('seal and open round trip, any length, fresh nonce each time', async (t) => {
  const s = Sealer.forTests(key);
  t.equal(s.keyId, createHash('sha256').update(key).digest().readUInt32BE(0), 'key id = first 4 bytes of SHA-256(key), big-endian');
  for (const plain of [Buffer.alloc(0), randomBytes(16), secret, randomBytes(32), randomBytes(64)]) {
    const blob = s.seal(7, plain);
    t.equal(blob.length, 1 + 4 + 12 + 16 + plain.length);
    t.equal(blob[0], 1, 'version 1');
    t.equal(blob.readUInt32BE(1), s.keyId, 'carries the key id');
    t.ok(s.open(7, blob).equals(plain));
  }
  const a = s.seal(7, secret);
  const b = s.seal(7, secret);
  t.not(a.toString('hex'), b.toString('hex'), 'random nonce: two seals of one secret differ');
  t.not(a.subarray(5, 17).toString('hex'), b.subarray(5, 17).toString('hex'));
  t.notOk(a.includes(secret), 'the plaintext is not in the blob');
  t.ok(Sealer.forTests(Buffer.from(key)).open(7, a).equals(secret), 'another Sealer over the same key opens it');
});

t.test('nonces come from a pool of 256: across its refills, 1000 seals have 1000 distinct nonces, each opens', async (t) => {
  const s = Sealer.forTests(key);
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const blob = s.seal(i, secret);
    nonces.add(blob.subarray(5, 17).toString('hex'));
    if (!s.open(i, blob).equals(secret)) t.fail(`seal ${i} does not open`);
  }
  t.equal(nonces.size, 1000);
});

t.test('a flipped bit anywhere in the blob fails closed (S2)', async (t) => {
  const s = Sealer.forTests(key);
  const blob = s.seal(42, secret);
  let failures = 0;
  for (let i = 0; i < blob.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(blob);
      bad[i] = (bad[i] as number) ^ (1 << bit);
      const e = caught(() => s.open(42, bad));
      if (e instanceof StoreError && e.code === 'seal-failed' && e.message === 'secret of token id 42 failed authentication') failures++;
    }
  }
  t.equal(failures, blob.length * 8, `all ${blob.length * 8} single-bit flips refused`);
  t.ok(s.open(42, blob).equals(secret), 'the original still opens');
});

t.test('a blob moved to another token id, another key, a wrong version or a cut blob fails (S1)', async (t) => {
  const s = Sealer.forTests(key);
  const blob = s.seal(1, secret);
  const moved = caught(() => s.open(2, blob));
  t.equal(moved.code, 'seal-failed');
  t.equal(moved.message, 'secret of token id 2 failed authentication');
  t.same(moved.details, ['authentication tag mismatch']);

  const other = Sealer.forTests(otherKey);
  t.not(other.keyId, s.keyId);
  const foreign = caught(() => other.open(1, blob));
  t.equal(foreign.code, 'seal-failed');
  t.equal(foreign.message, 'secret of token id 1 failed authentication');
  t.same(foreign.details, [`sealed by key id ${s.keyId}, this key is ${other.keyId}`]);

  // Another key with the first key's id forged into the header still fails on the tag.
  const forged = Buffer.from(other.seal(1, secret));
  forged.writeUInt32BE(s.keyId, 1);
  t.same(caught(() => s.open(1, forged)).details, ['authentication tag mismatch']);

  const v2 = Buffer.from(blob);
  v2[0] = 2;
  t.same(caught(() => s.open(1, v2)).details, ['unknown seal version 2']);
  for (const cut of [Buffer.alloc(0), blob.subarray(0, 32), blob.subarray(0, 33), blob.subarray(0, blob.length - 1)]) {
    const e = caught(() => s.open(1, cut));
    t.equal(e.code, 'seal-failed', `cut to ${cut.length} bytes`);
  }
  t.same(caught(() => s.open(1, blob.subarray(0, 32))).details, ['blob too short']);
  t.same(caught(() => s.open(1, Buffer.concat([blob, Buffer.from([0])]))).details, ['authentication tag mismatch'], 'a byte appended');
});

t.test('forTests refuses a key that is not 32 bytes', async (t) => {
  for (const n of [0, 16, 31, 33, 64]) {
    const e = caught(() => Sealer.forTests(Buffer.alloc(n, 1)));
    t.equal(e.code, 'key-file', `${n} bytes`);
  }
});

t.test('key file: created 0600 with its directory, then loaded again (S3)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'data', 'sub', 'master.key');
  const created = Sealer.fromKeyFile(path, { create: true });
  t.equal(statSync(path).mode & 0o777, 0o600, 'file mode 0600');
  t.equal(statSync(join(dir, 'data', 'sub')).mode & 0o777, 0o700, 'new directory 0700');
  const text = readFileSync(path, 'latin1');
  t.match(text, /^[0-9a-f]{64}\n$/, '64 hex digits and a newline');
  keyHexes.add(text.trim());
  t.equal(created.keyId, createHash('sha256').update(Buffer.from(text.trim(), 'hex')).digest().readUInt32BE(0));
  t.same(readdirSync(join(dir, 'data', 'sub')), ['master.key'], 'no temporary file left behind');

  const loaded = Sealer.fromKeyFile(path, { create: false });
  t.equal(loaded.keyId, created.keyId);
  t.ok(loaded.open(3, created.seal(3, secret)).equals(secret));
  const again = Sealer.fromKeyFile(path, { create: true });
  t.equal(again.keyId, created.keyId, 'create: true never replaces an existing key');

  const second = Sealer.fromKeyFile(join(dir, 'other.key'), { create: true });
  t.not(second.keyId, created.keyId, 'each new key file holds a new random key');
  keyHexes.add(readFileSync(join(dir, 'other.key'), 'latin1').trim());

  t.notMatch(inspect(created, { showHidden: true, depth: 5 }), text.trim(), 'inspecting the sealer does not show the key');
  t.notMatch(JSON.stringify(created), text.trim());
});

t.test('key file: accepted forms', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[string, string]> = [
    ['no-newline', key.toString('hex')],
    ['upper', `${key.toString('hex').toUpperCase()}\n`],
    ['crlf', `${key.toString('hex')}\r\n`],
  ];
  for (const [name, content] of cases) {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    t.equal(Sealer.fromKeyFile(path, { create: false }).keyId, Sealer.forTests(key).keyId, name);
  }
  const ro = join(dir, 'read-only');
  writeFileSync(ro, `${key.toString('hex')}\n`, { mode: 0o400 });
  t.equal(Sealer.fromKeyFile(ro, { create: false }).keyId, Sealer.forTests(key).keyId, 'mode 0400');
});

t.test('key file: missing without create is refused, naming the path', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'nope.key');
  const e = caught(() => Sealer.fromKeyFile(path, { create: false }));
  t.equal(e.code, 'key-file');
  t.equal(e.message, `key file ${path} does not exist`);
  t.throws(() => statSync(path), 'nothing was created');
});

t.test('key file: group- or world-readable is refused before it is read', async (t) => {
  const dir = tempDir(t);
  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o601, 0o610, 0o666]) {
    const path = join(dir, `key-${mode.toString(8)}`);
    writeFileSync(path, `${key.toString('hex')}\n`);
    chmodSync(path, mode);
    const e = caught(() => Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.code, 'key-file');
    const octal = mode.toString(8).padStart(4, '0');
    t.equal(e.message, `key file ${path} is readable by group or others (mode ${octal}); chmod 600 it`);
  }
  // Bad content in a 0644 file: the mode is what is reported (the file is never read).
  const bad = join(dir, 'bad-0644');
  writeFileSync(bad, 'not a key');
  chmodSync(bad, 0o644);
  t.match(caught(() => Sealer.fromKeyFile(bad, { create: false })).message, /mode 0644/);
});

t.test('key file: bad content is refused, naming the path and not the content', async (t) => {
  const dir = tempDir(t);
  const hex = key.toString('hex');
  const contents = [
    '',
    '\n',
    hex.slice(0, 62),
    `${hex.slice(0, 63)}g\n`,
    `${hex}00\n`,
    `${hex}\n${hex}\n`,
    ` ${hex}\n`,
    `${hex}\n\n`,
    `${hex} \n`,
    'x'.repeat(10_000),
    `${hex}\n${'#'.repeat(200)}`,
  ];
  contents.forEach((content, i) => {
    const path = join(dir, `bad-${i}`);
    writeFileSync(path, content, { mode: 0o600 });
    const e = caught(() => Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.code, 'key-file', `content ${i}`);
    t.equal(e.message, `key file ${path} does not hold one 256-bit key as 64 hex digits`);
    t.equal(readFileSync(path, 'latin1'), content, 'create: true does not overwrite a bad key file');
  });
});

t.test('key file: a directory, a path through a file, a directory that cannot be made', async (t) => {
  const dir = tempDir(t);
  const sub = join(dir, 'a-directory');
  mkdirSync(sub, { mode: 0o700 });
  const isDir = caught(() => Sealer.fromKeyFile(sub, { create: true }));
  t.equal(isDir.code, 'key-file');
  t.equal(isDir.message, `key file ${sub} is not a regular file`);

  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x', { mode: 0o600 });
  const through = join(file, 'master.key');
  const e = caught(() => Sealer.fromKeyFile(through, { create: false }));
  t.equal(e.code, 'key-file');
  t.equal(e.message, `cannot open key file ${through} (ENOTDIR)`);

  const deeper = join(file, 'sub', 'master.key');
  const m = caught(() => Sealer.fromKeyFile(deeper, { create: true }));
  t.equal(m.code, 'key-file');
  t.equal(m.message, `cannot open key file ${deeper} (ENOTDIR)`);
});

t.test('key file creation faults and races (node:fs mocked)', async (t) => {
  const load = (overrides: Partial<typeof fs>) =>
    t.mockImport<typeof import('../../src/store/seal.js')>('../../src/store/seal.js', { 'node:fs': { ...fs, ...overrides } });
  const errno = (code?: string) => Object.assign(new Error('mock'), code === undefined ? {} : { code });

  t.test('another process links its key first: that key is loaded and ours is discarded', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'master.key');
    const mocked = await load({
      linkSync: () => {
        writeFileSync(path, `${otherKey.toString('hex')}\n`, { mode: 0o600 });
        throw errno('EEXIST');
      },
    });
    t.equal(mocked.Sealer.fromKeyFile(path, { create: true }).keyId, Sealer.forTests(otherKey).keyId);
    t.same(readdirSync(dir), ['master.key'], 'temporary file removed');
  });

  t.test('link fails otherwise', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'master.key');
    const mocked = await load({ linkSync: () => { throw errno('EPERM'); } });
    const e = caught(() => mocked.Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.code, 'key-file');
    t.equal(e.message, `cannot create key file ${path} (EPERM)`);
    t.same(readdirSync(dir), [], 'temporary file removed');
  });

  t.test('the temporary file cannot be opened (an error without an errno code)', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'master.key');
    const mocked = await load({
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        if (flags === 'wx') throw errno();
        return fs.openSync(p, flags, mode);
      }) as typeof fs.openSync,
    });
    const e = caught(() => mocked.Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.message, `cannot create key file ${path} (error)`);
    t.same(readdirSync(dir), []);
  });

  t.test('the directory cannot be made', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'missing', 'master.key');
    const mocked = await load({ mkdirSync: (() => { throw errno('EROFS'); }) as typeof fs.mkdirSync });
    const e = caught(() => mocked.Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.code, 'key-file');
    t.equal(e.message, `cannot create the directory of key file ${path} (EROFS)`);
  });

  t.test('the key file is gone right after it was created', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'master.key');
    const mocked = await load({ linkSync: () => undefined });
    const e = caught(() => mocked.Sealer.fromKeyFile(path, { create: true }));
    t.equal(e.code, 'key-file');
    t.equal(e.message, `key file ${path} is missing right after it was created`);
  });
});

t.test('a blob of another key: the key file (or its rotation .new) is read again, at most once a second', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'master.key');
  const third = Buffer.alloc(32, 0x33);
  keyHexes.add(third.toString('hex'));
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600 });
  const s = Sealer.fromKeyFile(path, { create: false });
  // A rotation beside this sealer: the new key in .new, the secret sealed again with it.
  writeFileSync(`${path}.new`, `${otherKey.toString('hex')}\n`, { mode: 0o600 });
  t.same(s.open(7, Sealer.forTests(otherKey).seal(7, secret)), secret, 'the .new key is taken');
  t.equal(s.keyId, Sealer.forTests(otherKey).keyId, 'and seals from now on');
  t.same(Sealer.forTests(otherKey).open(7, s.seal(7, secret)), secret);
  writeFileSync(path, `${third.toString('hex')}\n`, { mode: 0o600 });
  const e = caught(() => s.open(8, Sealer.forTests(third).seal(8, secret)));
  t.equal(e.code, 'seal-failed', 'within a second of the last read: not read again');
  await new Promise((r) => setTimeout(r, 1050));
  t.same(s.open(8, Sealer.forTests(third).seal(8, secret)), secret, 'a second later: the key file is read again');
  await new Promise((r) => setTimeout(r, 1050));
  chmodSync(path, 0o644);
  t.equal(caught(() => s.open(9, Sealer.forTests(key).seal(9, secret))).code, 'seal-failed', 'a key file it may not read, or none that has the key: fails closed');
  t.same(s.open(8, Sealer.forTests(third).seal(8, secret)), secret, 'the key it holds still opens');
  rmSync(`${path}.new`);
  chmodSync(path, 0o600);
  await new Promise((r) => setTimeout(r, 1050));
  t.equal(caught(() => s.open(9, Sealer.forTests(key).seal(9, secret))).code, 'seal-failed', 'no .new, a key file with another key: fails closed');
  const memory = Sealer.forTests(key);
  t.equal(caught(() => memory.open(1, Sealer.forTests(otherKey).seal(1, secret))).code, 'seal-failed', 'a sealer without a key file reads nothing');
});

t.test('reload: .new is read first, then the key file (a rename between the two reads is not missed)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'master.key');
  writeFileSync(path, `${otherKey.toString('hex')}\n`, { mode: 0o600 });
  const s = Sealer.fromKeyFile(path, { create: false });
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600 });
  writeFileSync(`${path}.new`, `${Buffer.alloc(32, 0x44).toString('hex')}\n`, { mode: 0o600 });
  keyHexes.add(Buffer.alloc(32, 0x44).toString('hex'));
  t.same(s.open(3, Sealer.forTests(key).seal(3, secret)), secret, 'not in .new: found in the key file');
});

t.test('keyFileCurrent: whether the key file still holds the sealer’s key, read again each time', async (t) => {
  t.ok(Sealer.forTests(key).keyFileCurrent(), 'a sealer without a key file: nothing to compare');
  const path = join(tempDir(t), 'master.key');
  const s = Sealer.fromKeyFile(path, { create: true });
  t.ok(s.keyFileCurrent());
  writeFileSync(path, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  t.notOk(s.keyFileCurrent(), 'another key in the file');
  rmSync(path);
  t.notOk(s.keyFileCurrent(), 'no file');
});

t.test('keyFileTarget: a link is followed; a path that does not exist is itself', async (t) => {
  const { keyFileTarget } = await import('../../src/store/seal.js');
  const dir = tempDir(t);
  const real = join(dir, 'real.key');
  writeFileSync(real, `${key.toString('hex')}\n`, { mode: 0o600 });
  fs.symlinkSync(real, join(dir, 'link.key'));
  t.equal(keyFileTarget(join(dir, 'link.key')), fs.realpathSync(real));
  t.equal(keyFileTarget(join(dir, 'missing.key')), join(dir, 'missing.key'));
});

t.test('reload follows the configured link where it points now', async (t) => {
  const dir = tempDir(t);
  for (const d of ['a', 'b']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'a', 'master.key'), `${key.toString('hex')}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'b', 'master.key'), `${otherKey.toString('hex')}\n`, { mode: 0o600 });
  const link = join(dir, 'master.key');
  fs.symlinkSync(join(dir, 'a', 'master.key'), link);
  const s = Sealer.fromKeyFile(link, { create: false });
  fs.unlinkSync(link);
  fs.symlinkSync(join(dir, 'b', 'master.key'), link);
  t.same(s.open(4, Sealer.forTests(otherKey).seal(4, secret)), secret, 'the key where the link points now');
});

t.test('renameKeyFile: done by another process first (from gone, to holding the key) is done', async (t) => {
  const { renameKeyFile } = await import('../../src/store/seal.js');
  const dir = tempDir(t);
  const to = join(dir, 'master.key');
  writeFileSync(to, `${key.toString('hex')}\n`, { mode: 0o600 });
  renameKeyFile(join(dir, 'gone.new'), to, Sealer.forTests(key).keyId);
  t.pass('no error');
  const e = caught(() => renameKeyFile(join(dir, 'gone.new'), to, Sealer.forTests(otherKey).keyId));
  t.equal(e.message, `cannot rename ${join(dir, 'gone.new')} to ${to} (ENOENT)`, 'another key there: an error');
});

t.test('renameKeyFile: a rename whose directory cannot be synced says so, not that it could not rename', async (t) => {
  const { renameKeyFile } = await t.mockImport<typeof import('../../src/store/seal.js')>('../../src/store/seal.js', {
    'node:fs': { ...fs, fsyncSync: () => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); } },
  });
  const dir = tempDir(t);
  const from = join(dir, 'master.key.new');
  const to = join(dir, 'master.key');
  writeFileSync(from, `${key.toString('hex')}\n`, { mode: 0o600 });
  const e = caught(() => renameKeyFile(from, to, Sealer.forTests(key).keyId));
  t.equal(e.message, `renamed ${from} to ${to}, but cannot sync ${dir} (EIO): an OS crash now could undo the rename; run the command again`);
  t.ok(fs.existsSync(to), 'renamed');
  t.notOk(fs.existsSync(from));
});

t.test('rotation files: a new key file replaces a stale one; a key copied out is 0600 and kept if the same', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'master.key.new');
  writeFileSync(path, 'stale\n', { mode: 0o600 });
  const next = Sealer.generate();
  next.writeNewKeyFile(path);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const written = Sealer.fromKeyFile(path, { create: false });
  t.equal(written.keyId, next.keyId);
  t.same(written.open(3, next.seal(3, secret)), secret, 'the key written is the one it seals with');
  const again = Sealer.generate();
  again.writeNewKeyFile(join(dir, 'fresh.key'));
  t.not(again.keyId, next.keyId, 'random');
  const copy = join(dir, 'copy.key');
  next.writeKeyTo(copy);
  t.equal(statSync(copy).mode & 0o777, 0o600);
  t.equal(Sealer.fromKeyFile(copy, { create: false }).keyId, next.keyId);
  next.writeKeyTo(copy);
  t.pass('the same key there already: kept');
  const e = caught(() => again.writeKeyTo(copy));
  t.equal(e.message, `${copy} exists and holds another key: move it away first`);
  t.equal(Sealer.fromKeyFile(copy, { create: false }).keyId, next.keyId, 'not replaced');
});

t.test('rotation file faults (node:fs mocked)', async (t) => {
  const errno = (code: string) => Object.assign(new Error('mock'), { code });
  const load = (overrides: Partial<typeof fs>) =>
    t.mockImport<typeof import('../../src/store/seal.js')>('../../src/store/seal.js', { 'node:fs': { ...fs, ...overrides } });
  const dir = tempDir(t);
  const unlinkFails = await load({ unlinkSync: () => { throw errno('EACCES'); } });
  t.equal(caught(() => unlinkFails.Sealer.generate().writeNewKeyFile(join(dir, 'k.new'))).message, `cannot remove ${join(dir, 'k.new')} (EACCES)`);
  const linkNothing = await load({ linkSync: () => undefined });
  const mockedSealer = linkNothing.Sealer.forTests(key);
  t.equal(caught(() => mockedSealer.writeKeyTo(join(dir, 'gone.key'))).message, `key file ${join(dir, 'gone.key')} is missing right after it was written`);
  const renameFails = await load({ renameSync: () => { throw errno('EXDEV'); } });
  t.equal(caught(() => renameFails.renameKeyFile(join(dir, 'a'), join(dir, 'b'), 1)).message, `cannot rename ${join(dir, 'a')} to ${join(dir, 'b')} (EXDEV)`);
});

t.test('no error message or detail holds key material', async (t) => {
  t.ok(messages.length > 50, `${messages.length} messages checked`);
  for (const m of messages) {
    for (const hex of keyHexes) {
      t.notOk(m.toLowerCase().includes(hex.slice(0, 16)), `no key hex in: ${m}`);
    }
    t.notOk(m.includes(secret.toString()), 'no secret');
  }
});
