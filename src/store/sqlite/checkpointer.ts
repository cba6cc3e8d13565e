/**
 * WAL checkpoints off the event loop, for the server's store (sqlite.org/wal.html: "run the
 * checkpoint in a separate thread"). SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses 1,000 WAL pages; with every decision writing another token's page that was every
 * ~1,000 decisions, and each stalled the event loop 12–16 ms here (two fsyncs): about 12 µs a
 * decision, and most of the latency p99. With this, the server's connection does not checkpoint
 * by itself (wal_autocheckpoint = 0) and checkpoint-worker.ts copies the WAL back from a thread.
 *
 * SQLite starts the WAL over only when a writer finds it wholly copied back, which under
 * continuous writes the thread never leaves it (commits land while it runs). So when a pass
 * reports restartFrames or more, the connection here runs one PASSIVE checkpoint itself, between
 * two batches: it copies only what was committed during that pass (~1 ms here, at most every
 * restartFrames decisions), and the next write starts the WAL over.
 *
 * The thread runs at the lowest priority (checkpoint-worker.ts), so it takes the core only when
 * the event loop waits. An event loop that never waits would starve it: then the connection
 * checkpoints by itself, as SQLite does by default but past OVERDUE_PAGES instead of 1,000, so
 * the WAL stays bounded (~40 MB) at the price of a stall now and then, only in such overload.
 *
 * Durability is unchanged: commits are what they were (store.synchronous, wal-sync.ts), and a
 * checkpoint is SQLite's own, whichever connection runs it. If the thread fails, the connection
 * checkpoints itself again (SQLite's default, 1,000 pages) and onError says why. The thread
 * costs a V8 isolate: about 10 MB of resident memory.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { CheckpointResult, CheckpointWorkerData } from './checkpoint-worker.js';

export interface CheckpointPass {
  /** Frames in the WAL when the thread's pass began. */
  log: number;
  /** The connection then copied back the rest, so that the next write starts the WAL over. */
  restarted: boolean;
}

export interface CheckpointerOptions {
  onError: (err: Error) => void;
  /** Called after each pass of the thread that found new commits (tests). */
  onPass?: (pass: CheckpointPass) => void;
  /** Pacing of the thread's passes (checkpoint-pacing.ts); defaults 100, 5, 50 ms and 64 frames. */
  idleMs?: number;
  busyMs?: number;
  lazyMs?: number;
  busyFrames?: number;
  restartFrames?: number;
  /** The connection's own wal_autocheckpoint while the thread runs (default OVERDUE_PAGES). */
  overduePages?: number;
  /** The thread puts itself under SCHED_IDLE as well (sched/idle-policy.ts): the server does. */
  idlePolicy?: boolean;
}

export interface Checkpointer {
  /** Ends the thread (its current pass first); resolves when it has closed its connection. */
  stop(): Promise<void>;
  /** The thread, for tests that need it to fail; null for an in-memory database (no WAL, no thread). */
  readonly worker: Worker | null;
}

/**
 * Copies back what the thread's last pass left, so the next write starts the WAL over. False
 * when the thread's next pass already holds the checkpoint lock (SQLITE_BUSY): it asks again.
 */
function finishCheckpoint(db: Database.Database): boolean {
  const r = (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] as CheckpointResult;
  return r.busy === 0 && r.log === r.checkpointed;
}

/** SQLite's default wal_autocheckpoint, restored when the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The connection's own wal_autocheckpoint while the thread runs: far past where the thread's
 * passes keep the WAL (restartFrames), reached only when the thread gets no time.
 */
export const OVERDUE_PAGES = 10_000;
// Same extension as this module: .js when run from dist, .ts under the tests' loader.
const WORKER = new URL(`./checkpoint-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Starts checkpointing `db`'s WAL in a worker thread (`db` in WAL mode; an in-memory one has
 * nothing to checkpoint). `db` stops checkpointing itself once the thread has made its first pass.
 */
export function startCheckpointer(db: Database.Database, opts: CheckpointerOptions): Checkpointer {
  if (db.memory) return { worker: null, stop: async () => {} };
  const data: CheckpointWorkerData = {
    path: db.name,
    idleMs: opts.idleMs ?? 100,
    busyMs: opts.busyMs ?? 5,
    lazyMs: opts.lazyMs ?? 50,
    busyFrames: opts.busyFrames ?? 64,
    idlePolicy: opts.idlePolicy ?? false,
  };
  const restartFrames = opts.restartFrames ?? 4000;
  const overduePages = opts.overduePages ?? OVERDUE_PAGES;
  // No resourceLimits: they did not lower its footprint (measured), and the tests' TypeScript loader needs more.
  const worker = new Worker(WORKER, { workerData: data });
  let stopping = false;
  let failed: Error | undefined;
  let handedOver = false;
  worker.on('message', ({ log }: { log: number }) => {
    if (!db.open) return; // closed under the thread (a store fault): nothing to hand over
    // The connection checkpoints as usual until the thread has done its first pass.
    if (!handedOver) db.pragma(`wal_autocheckpoint = ${overduePages}`);
    handedOver = true;
    // Not inside a batch (a checkpoint cannot run in a transaction); the next pass asks again.
    const restarted = log >= restartFrames && !db.inTransaction && finishCheckpoint(db);
    opts.onPass?.({ log, restarted });
  });
  worker.on('error', (err: Error & { code?: string }) => {
    // A SqliteError arrives from the thread with its code but without its message.
    failed = new Error(`the checkpoint thread failed: ${[err.message, err.code].filter(Boolean).join(' ')}`);
  });
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      if (!stopping || failed !== undefined) {
        if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
        opts.onError(failed ?? new Error(`the checkpoint thread exited (code ${code})`));
      }
      resolve();
    }),
  );
  worker.unref();
  return {
    worker,
    async stop() {
      if (!stopping) {
        stopping = true;
        worker.ref(); // a stop being waited for keeps the process alive until the thread is done
        worker.postMessage('stop');
      }
      await exited;
    },
  };
}
