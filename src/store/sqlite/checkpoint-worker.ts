/**
 * The checkpointer thread (checkpointer.ts). Its own connection copies the WAL back into the
 * database with PASSIVE checkpoints (sqlite.org/wal.html, "Checkpointing"), which never wait for
 * and never block the server's connection, so the fsyncs a checkpoint ends with (~12 ms per 1,000
 * pages here) happen here and not on the event loop. A pass runs when the server has committed
 * since the last one (PRAGMA data_version) and reports the WAL's size to checkpointer.ts, which
 * makes the WAL start over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointWorkerData {
  path: string;
  /** Pause after a pass that found nothing new (ms). */
  idleMs: number;
  /** Pause after a pass that copied new frames (ms). */
  busyMs: number;
}

/** The row of `PRAGMA wal_checkpoint`: blocked (1) or not, frames in the WAL, frames copied back. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const o = workerData as CheckpointWorkerData;
const port = parentPort as NonNullable<typeof parentPort>;
const db = new Database(o.path, { fileMustExist: true });
let timer: NodeJS.Timeout | undefined;

function checkpoint(): CheckpointResult {
  return (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] as CheckpointResult;
}

/** data_version at the last pass: it changes when another connection commits. */
let seen: unknown;

function pass(): void {
  const version = db.pragma('data_version', { simple: true });
  const fresh = version !== seen;
  seen = version;
  if (fresh) port.postMessage({ log: checkpoint().log });
  timer = setTimeout(pass, fresh ? o.busyMs : o.idleMs);
}

// The only message is 'stop'.
port.on('message', () => {
  clearTimeout(timer);
  db.close();
  port.close();
});
pass();
