/**
 * How long a writer beside an administrative command waits for the store's write lock: what a
 * running server's commits (and so its answers) wait during an import or a key rotation. The
 * probe is a thread of its own (lock-probe-worker.ts), so it keeps trying while the command holds
 * the event loop's thread.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

// Same extension as this module: .js when run from dist, .ts under the tests' loader.
const WORKER = new URL(`./lock-probe-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export interface LockProbe {
  /** Stops the probe (once: later calls get the same answer); resolves to the longest time (ms) it found the write lock held by another. */
  stop(): Promise<number>;
}

/** Starts probing the store at `path` (an existing SQLite database in WAL mode); resolves once it tries. */
export async function probeWriteLock(path: string): Promise<LockProbe> {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER, { workerData: { path, stop } });
  const message = (): Promise<{ ready?: true; longestMs?: number }> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  await message();
  let stopped: Promise<number> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        const result = message();
        const flag = new Int32Array(stop);
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        const { longestMs } = await result;
        await worker.terminate();
        return longestMs as number;
      })()),
  };
}
