/**
 * Password hashing with argon2id (@node-rs/argon2), never on the event loop: on `threads` worker
 * threads of low scheduling priority (hash-worker.ts). A burst of logins queues here instead of
 * starving the socket, and the event loop keeps the CPU it needs while the hashes use the rest.
 *
 * One NAS must not starve the others (RELIABILITY R10): each client's work waits in a queue of its
 * own and the queues take turns, so a flood of wrong passwords waits behind itself while another
 * client's request is next. Work that waited MAX_HASH_WAIT_MS for a thread is dropped unstarted.
 */
import { hashSync } from '@node-rs/argon2';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HashQueueTimeout } from './decision.js';
import { ARGON2_PARAMS, type HashTask } from './hash-task.js';

/**
 * How long a hash may wait for a thread before it is dropped (HashQueueTimeout). NASes wait 3-5 s
 * for an answer (a retransmission meanwhile is a duplicate, dropped while the request is queued):
 * work that waited longer mostly answers a NAS that has given up, and under a backlog dropping it
 * leaves the threads to requests that can still be answered in time.
 */
export const MAX_HASH_WAIT_MS = 3000;

export interface PasswordHasher {
  /** The CLI's (no client): in a queue of its own. */
  hash(password: string | Buffer): Promise<string>;
  /**
   * Constant-time comparison inside argon2's verify; a malformed hash is a mismatch. `client`
   * names the queue. Rejects with HashQueueTimeout after MAX_HASH_WAIT_MS without a thread.
   */
  verify(hashed: string, password: string | Buffer, client: string): Promise<boolean>;
  /** Spend the time of one verification without any user (unknown users take as long as known ones). */
  verifyDummy(password: string | Buffer, client: string): Promise<boolean>;
  /** Stops the hashing threads (pending work is refused). */
  close(): Promise<void>;
}

interface Job {
  task: HashTask;
  /** When it was queued (the pool's clock, ms). */
  queued: number;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

/** A client's name; undefined for hash() (the CLI). */
type QueueKey = string | undefined;

/** The worker next to this file: .js when compiled, .ts when the tests run the sources. */
const WORKER = new URL(`./hash-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);

class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  /**
   * Round-robin by rounds: the clients whose turn in this round is still to come, then those that
   * had it, each with its FIFO of work. A client served stays among `served` (even with nothing
   * left) until the round ends, so what it adds meanwhile waits for the next round: a client
   * that comes in now is next, behind only the work already running.
   */
  private turn = new Map<QueueKey, Job[]>();
  private served = new Map<QueueKey, Job[]>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly now: () => number,
  ) {}

  run(task: HashTask, client: QueueKey): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('password hashing is stopped'));
    return new Promise((resolve, reject) => {
      const job = { task, queued: this.now(), resolve, reject };
      const queue = this.served.get(client) ?? this.turn.get(client);
      if (queue === undefined) this.turn.set(client, [job]);
      else queue.push(job);
      this.dispatch();
    });
  }

  /** The next client's next job; work that waited too long is dropped on the way. */
  private take(): Job | undefined {
    const oldest = this.now() - MAX_HASH_WAIT_MS;
    for (;;) {
      if (this.turn.size === 0) {
        if (this.served.size === 0) return undefined;
        [this.turn, this.served] = [this.served, this.turn];
      }
      const [client, queue] = this.turn.entries().next().value as [QueueKey, Job[]];
      this.turn.delete(client);
      while (queue.length > 0 && (queue[0] as Job).queued < oldest) (queue.shift() as Job).reject(new HashQueueTimeout());
      const job = queue.shift();
      if (job === undefined) continue; // nothing new since its last turn: out of the rotation
      this.served.set(client, queue);
      return job;
    }
  }

  private dispatch(): void {
    while (this.busy.size < this.size) {
      const job = this.take();
      if (job === undefined) return;
      const worker = this.idle.pop() ?? this.spawn(); // idle and busy threads together never pass `size`
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
    const queued = [...this.turn.values(), ...this.served.values()].flat();
    this.turn.clear();
    this.served.clear();
    for (const job of [...queued, ...this.busy.values()]) job.reject(stopped);
    const workers = [...this.idle.splice(0), ...this.busy.keys()];
    this.busy.clear();
    // A result already on its way from a thread being stopped has no job left to answer.
    for (const w of workers) w.removeAllListeners('message');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** `now`: a monotonic clock in ms (tests pass their own). */
export async function createArgon2Hasher(threads = 0, now: () => number = () => performance.now()): Promise<PasswordHasher> {
  const pool = new HashPool(threads > 0 ? threads : availableParallelism(), now);
  const dummy = hashSync('radius-otp dummy password', ARGON2_PARAMS);
  const verify = async (hashed: string, password: string | Buffer, client: string): Promise<boolean> =>
    (await pool.run({ op: 'verify', hash: hashed, password }, client)) as boolean;
  return {
    hash: async (password) => (await pool.run({ op: 'hash', password }, undefined)) as string,
    verify,
    verifyDummy: async (password, client) => {
      await verify(dummy, password, client);
      return false;
    },
    close: () => pool.close(),
  };
}
