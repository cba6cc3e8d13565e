import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { probeWriteLock } from '../../src/bench/lock-probe.js';
import { tempDir } from '../helpers/tmp.js';

t.test('the probe measures how long another connection held the write lock', async (t) => {
  const path = join(tempDir('radius-otp-lock-probe-'), 'db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE x (a)');
  t.teardown(() => db.close());

  const idle = await probeWriteLock(path);
  await new Promise((r) => setTimeout(r, 30));
  t.equal(await idle.stop(), 0, 'nobody held it');

  const held = await probeWriteLock(path);
  db.exec('BEGIN IMMEDIATE');
  const started = performance.now();
  const until = started + 300;
  while (performance.now() < until); // the event loop held, as by an import's transaction
  db.exec('COMMIT');
  const heldFor = performance.now() - started;
  await new Promise((r) => setTimeout(r, 20));
  const ms = await held.stop();
  // Not a timing bound: the probe saw the lock held, and for no longer than it was (it may start seeing it late on a busy machine).
  t.ok(ms > 0 && ms <= heldFor + 1, `held ${heldFor.toFixed(1)} ms, measured ${ms.toFixed(1)}`);
  t.equal(await held.stop(), ms, 'a second stop gives the same answer');

  const open = await probeWriteLock(path);
  db.exec('BEGIN IMMEDIATE');
  await new Promise((r) => setTimeout(r, 200));
  const stillHeld = await open.stop();
  db.exec('ROLLBACK');
  t.ok(stillHeld > 0, `held when stopped: counted to the stop (${stillHeld.toFixed(1)} ms)`);
});
