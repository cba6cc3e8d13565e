/**
 * The checkpointer thread (checkpointer.ts). Its own connection copies the WAL back into the
 * database with PASSIVE checkpoints (sqlite.org/wal.html, "Checkpointing"), which never wait for
 * and never block the server's connection, so the fsyncs a checkpoint ends with (~12 ms per 1,000
 * pages here) happen here and not on the event loop. A pass runs when the server has committed
 * since the last one (PRAGMA data_version) and reports the WAL's size to checkpointer.ts, which
 * makes the WAL start over.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { currentThreadId, setIdlePolicy } from '../../sched/idle-policy.js';
import { CHECKPOINT_NICE, nextWait, type Pacing, type PassState } from './checkpoint-pacing.js';

/** The store's path and when to make passes (checkpoint-pacing.ts). */
export interface CheckpointWorkerData extends Pacing {
  path: string;
  /** Also SCHED_IDLE (sched/idle-policy.ts): never preempts the event loop, yields to it at once. */
  idlePolicy: boolean;
}

/** The row of `PRAGMA wal_checkpoint`: blocked (1) or not, frames in the WAL, frames copied back. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const o = workerData as CheckpointWorkerData;
// This thread runs at nice 19, below the event loop's thread (on Linux a priority is per
// thread), so a pass never holds up a request when both want the same core: it runs when the
// event loop waits. Measured with the server and this thread pinned to one core, open loop at
// 3,000 requests/s, 3 alternated pairs: p99 3.54/4.22/4.65 ms at nice 0, 1.74/2.17/2.37 at 19.
// Should it get too little time (an event loop busy without a pause), the server's connection
// checkpoints by itself past OVERDUE_PAGES (checkpointer.ts), so the WAL stays bounded.
try {
  setPriority(CHECKPOINT_NICE);
  /* c8 ignore next 3 -- raising one's own nice value is always allowed on the machines we test on */
} catch {
  // Not allowed here (a seccomp profile, say): the thread keeps the server's priority.
}
if (o.idlePolicy) {
  const tid = currentThreadId();
  // Without /proc or chrt the thread stays at nice 19.
  if (tid !== null) setIdlePolicy(tid);
}
const port = parentPort as NonNullable<typeof parentPort>;
const db = new Database(o.path, { fileMustExist: true });
// Said, not left to the build's default: at NORMAL (or FULL) a checkpoint syncs the WAL before it
// copies and the database after, so the WAL is never started over on pages not yet on disk
// (sqlite.org/pragma.html#pragma_synchronous; OFF would skip both).
db.pragma('synchronous = NORMAL');
let timer: NodeJS.Timeout | undefined;

function checkpoint(): CheckpointResult {
  return (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] as CheckpointResult;
}

/** data_version at the last pass: it changes when another connection commits. */
let seen: unknown;
const state: PassState = { checkpointed: 0 };

function pass(): void {
  const version = db.pragma('data_version', { simple: true });
  const result = version !== seen ? checkpoint() : undefined;
  seen = version;
  if (result !== undefined) port.postMessage({ log: result.log });
  timer = setTimeout(pass, nextWait(o, state, result));
}

// The only message is 'stop'.
port.on('message', () => {
  clearTimeout(timer);
  db.close();
  port.close();
});
pass();
