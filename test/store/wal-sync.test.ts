/**
 * WalSync (store/sqlite/wal-sync.ts): one fdatasync at a time on the WAL file; a caller is
 * answered by a sync that started after it called, and one sync answers every caller waiting.
 */
import { fstatSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { WalSync, type Fdatasync } from '../../src/store/sqlite/wal-sync.js';
import { tempDir } from '../helpers/tmp.js';

/** A fdatasync that finishes only when told to: `finish(i, err?)` ends the i-th call. */
function heldSync(): { fdatasync: Fdatasync; fds: number[]; finish: (i: number, err?: NodeJS.ErrnoException) => void } {
  const calls: Array<(err: NodeJS.ErrnoException | null) => void> = [];
  const fds: number[] = [];
  return {
    fdatasync: (fd, done) => {
      fds.push(fd);
      calls.push(done);
    },
    fds,
    finish: (i, err) => calls[i]!(err ?? null),
  };
}

function walFile(): string {
  const path = join(tempDir('radius-otp-wal-'), 'radius-otp.db-wal');
  writeFileSync(path, 'frames');
  return path;
}

const state = (p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> =>
  Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);

t.test('syncs the WAL file itself: its fd is the file at the path', async (t) => {
  const path = walFile();
  const held = heldSync();
  const sync = new WalSync(path, () => {}, held.fdatasync);
  const done = sync.after();
  t.equal(held.fds.length, 1);
  t.equal(fstatSync(held.fds[0]!).ino, statSync(path).ino, 'the fd is the WAL file');
  t.equal(await state(done), 'pending', 'not before the sync ends');
  held.finish(0);
  t.equal(await state(done), 'resolved');
  sync.close();
  t.throws(() => fstatSync(held.fds[0]!), { code: 'EBADF' }, 'close() closes the file');
});

t.test('a caller during a sync waits for the next one, and one next sync answers them all', async (t) => {
  const held = heldSync();
  const sync = new WalSync(walFile(), () => {}, held.fdatasync);
  const first = sync.after();
  const second = sync.after();
  const third = sync.after();
  t.equal(second, third, 'the callers during a sync share the next');
  t.equal(held.fds.length, 1, 'one sync at a time');
  held.finish(0);
  t.equal(await state(first), 'resolved');
  t.equal(await state(second), 'pending', 'the first sync may have missed what they wrote');
  t.equal(held.fds.length, 2, 'the next starts when the first ends');
  held.finish(1);
  t.equal(await state(second), 'resolved');
  const fourth = sync.after();
  t.equal(held.fds.length, 3, 'with none under way, a caller starts one at once');
  held.finish(2);
  await fourth;
  sync.close();
});

t.test('a failed sync is final: its callers and every later one are refused; the failure is told once', async (t) => {
  const path = walFile();
  const held = heldSync();
  const failures: string[] = [];
  const sync = new WalSync(path, (err) => failures.push(err.message), held.fdatasync);
  const first = sync.after();
  const second = sync.after();
  held.finish(0, Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  const message = `cannot sync ${path}: EIO: i/o error, fdatasync`;
  await t.rejects(first, { message });
  // Linux marks the pages it could not write clean and reports EIO once: a second sync would
  // succeed without them, so none is tried.
  await t.rejects(second, { message }, 'a caller waiting for the next sync');
  await t.rejects(sync.after(), { message }, 'and a later one');
  t.equal(held.fds.length, 1, 'no sync tried after the failure');
  t.same(failures, [message], 'told once');
  sync.close();
});

t.test('a fdatasync that throws instead of calling back fails the same way', async (t) => {
  const path = walFile();
  const failures: Error[] = [];
  const sync = new WalSync(path, (err) => failures.push(err), () => {
    throw new Error('EBADF: bad file descriptor');
  });
  await t.rejects(sync.after(), { message: `cannot sync ${path}: EBADF: bad file descriptor` });
  t.equal(failures.length, 1);
  sync.close();
});

t.test('a WAL that cannot be opened (deleted under the server) is a failure too, naming it', async (t) => {
  const path = join(tempDir('radius-otp-wal-'), 'missing.db-wal');
  const held = heldSync();
  const failures: string[] = [];
  const sync = new WalSync(path, (err) => failures.push(err.message), held.fdatasync);
  await t.rejects(sync.after(), { message: new RegExp(`^cannot open ${path} to sync it: ENOENT`) });
  writeFileSync(path, 'frames');
  await t.rejects(sync.after(), 'final: a file that is back is not the one SQLite wrote');
  t.equal(held.fds.length, 0);
  t.equal(failures.length, 1);
  sync.close();
});

t.test('a WAL deleted after it was opened: the sync succeeds on a file no name leads to, and is a failure', async (t) => {
  const path = walFile();
  const held = heldSync();
  const failures: string[] = [];
  const sync = new WalSync(path, (err) => failures.push(err.message), held.fdatasync);
  const first = sync.after();
  held.finish(0);
  t.equal(await state(first), 'resolved', 'linked: synced');
  rmSync(path);
  const second = sync.after();
  held.finish(1);
  await t.rejects(second, { message: `cannot sync ${path}: it was deleted while the server had it open; what is written to it is in no file a restart reads` });
  t.equal(failures.length, 1, 'told, as any failed sync');
  await t.rejects(sync.after(), 'final');
  sync.close();
});

t.test('close(): the sync under way ends first, then the file closes; later callers are refused', async (t) => {
  const path = walFile();
  const held = heldSync();
  const failures: Error[] = [];
  const sync = new WalSync(path, (err) => failures.push(err), held.fdatasync);
  const under = sync.after();
  const queued = sync.after();
  sync.close();
  t.equal(fstatSync(held.fds[0]!).ino, statSync(path).ino, 'still open while the sync runs');
  held.finish(0);
  await under;
  await t.rejects(queued, { message: `cannot sync ${path}: the store is closed` });
  t.same(failures, [], 'a closed store is no sync failure');
  t.throws(() => fstatSync(held.fds[0]!), { code: 'EBADF' }, 'closed after the sync');
  await t.rejects(sync.after(), { message: `cannot sync ${path}: the store is closed` });
  t.equal(held.fds.length, 1);
  sync.close();
});

t.test('close() before any sync: nothing was opened, nothing to close', async (t) => {
  const held = heldSync();
  const sync = new WalSync(walFile(), () => {}, held.fdatasync);
  sync.close();
  await t.rejects(sync.after());
  t.equal(held.fds.length, 0);
});

t.test('the default is fs.fdatasync', async (t) => {
  const sync = new WalSync(walFile(), () => {});
  await sync.after();
  sync.close();
  t.pass('synced a real file');
});
