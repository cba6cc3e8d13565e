/**
 * Password hashing with argon2id (@node-rs/argon2). Hashes are computed and verified on libuv's
 * thread pool, never on the event loop, and at most `threads` at once so that a burst of logins
 * queues here instead of starving the socket.
 */
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { availableParallelism } from 'node:os';

/** OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane. */
const PARAMS = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string | Buffer): Promise<string>;
  /** Constant-time comparison inside argon2's verify; a malformed hash is a mismatch. */
  verify(hashed: string, password: string | Buffer): Promise<boolean>;
  /** Spend the time of one verification without any user (unknown users take as long as known ones). */
  verifyDummy(password: string | Buffer): Promise<boolean>;
}

class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export async function createArgon2Hasher(threads = 0): Promise<PasswordHasher> {
  const limiter = new Limiter(threads > 0 ? threads : availableParallelism());
  const dummy = await hash('radius-otp dummy password', PARAMS);
  const check = (hashed: string, password: string | Buffer): Promise<boolean> =>
    limiter.run(() => verify(hashed, password).catch(() => false));
  return {
    hash: (password) => limiter.run(() => hash(password, PARAMS)),
    verify: check,
    verifyDummy: async (password) => {
      await check(dummy, password);
      return false;
    },
  };
}
