/**
 * The thread of lock-probe.ts: its own connection takes the store's write lock and lets it go
 * (BEGIN IMMEDIATE, ROLLBACK) every half millisecond without waiting for it (busy_timeout 0),
 * as a server's commit would want it, and keeps the longest run of SQLITE_BUSY.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, stop } = workerData as { path: string; stop: SharedArrayBuffer };
const stopped = new Int32Array(stop);
const db = new Database(path);
db.pragma('busy_timeout = 0');
let longest = 0;
let busySince: number | null = null;
parentPort!.postMessage({ ready: true });
while (Atomics.load(stopped, 0) === 0) {
  const now = performance.now();
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    if (busySince !== null) longest = Math.max(longest, now - busySince);
    busySince = null;
  } catch (err) {
    /* c8 ignore next -- only a lock held elsewhere is expected here */
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    busySince ??= now;
  }
  Atomics.wait(stopped, 0, 0, 0.5);
}
if (busySince !== null) longest = Math.max(longest, performance.now() - busySince);
db.close();
parentPort!.postMessage({ longestMs: longest });
