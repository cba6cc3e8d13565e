/**
 * Password hashing with argon2id (@node-rs/argon2), never on the event loop: on `threads` worker
 * threads of low scheduling priority (hash-worker.ts). A burst of logins queues here instead of
 * starving the socket, and the event loop keeps the CPU it needs while the hashes use the rest.
 */
import { hashSync } from '@node-rs/argon2';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ARGON2_PARAMS, type HashTask } from './hash-task.js';

export interface PasswordHasher {
  hash(password: string | Buffer): Promise<string>;
  /** Constant-time comparison inside argon2's verify; a malformed hash is a mismatch. */
  verify(hashed: string, password: string | Buffer): Promise<boolean>;
  /** Spend the time of one verification without any user (unknown users take as long as known ones). */
  verifyDummy(password: string | Buffer): Promise<boolean>;
  /** Stops the hashing threads (pending work is refused). */
  close(): Promise<void>;
}

interface Job {
  task: HashTask;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

/** The worker next to this file: .js when compiled, .ts when the tests run the sources. */
const WORKER = new URL(`./hash-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private closed = false;

  constructor(private readonly size: number) {}

  run(task: HashTask): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('password hashing is stopped'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.busy.size < this.size ? this.spawn() : undefined);
      if (worker === undefined) return;
      const job = this.queue.shift() as Job;
      this.busy.set(worker, job);
      worker.ref(); // a thread at work keeps the process alive until it answers
      worker.postMessage(job.task);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER);
    worker.on('message', (result: string | boolean) => {
      const job = this.busy.get(worker) as Job;
      this.busy.delete(worker);
      this.idle.push(worker);
      worker.unref(); // an idle thread never keeps a command running
      job.resolve(result);
      this.dispatch();
    });
    // The thread died (an error, or close()): its job fails, and the next job gets a new thread.
    worker.on('exit', () => {
      this.busy.get(worker)?.reject(new Error('password hashing thread stopped'));
      this.busy.delete(worker);
      if (!this.closed) this.dispatch();
    });
    worker.on('error', () => {}); // reported through 'exit'
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const stopped = new Error('password hashing is stopped');
    for (const job of [...this.queue.splice(0), ...this.busy.values()]) job.reject(stopped);
    const workers = [...this.idle.splice(0), ...this.busy.keys()];
    this.busy.clear();
    // A result already on its way from a thread being stopped has no job left to answer.
    for (const w of workers) w.removeAllListeners('message');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function createArgon2Hasher(threads = 0): Promise<PasswordHasher> {
  const pool = new HashPool(threads > 0 ? threads : availableParallelism());
  const dummy = hashSync('radius-otp dummy password', ARGON2_PARAMS);
  const verify = async (hashed: string, password: string | Buffer): Promise<boolean> =>
    (await pool.run({ op: 'verify', hash: hashed, password })) as boolean;
  return {
    hash: async (password) => (await pool.run({ op: 'hash', password })) as string,
    verify,
    verifyDummy: async (password) => {
      await verify(dummy, password);
      return false;
    },
    close: () => pool.close(),
  };
}
