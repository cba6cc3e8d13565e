/** The primary credential against local users (argon2id hashes in the store). */
import type { UserStore } from '../store/types.js';
import { HashQueueTimeout } from './decision.js';
import type { PasswordHasher } from './passwords.js';
import type { PrimaryAuthenticator, PrimaryResult } from './primary.js';

export class LocalPrimary implements PrimaryAuthenticator {
  constructor(
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
  ) {}

  async verify(user: string, password: string, client: string): Promise<PrimaryResult> {
    const found = this.users.get(user);
    const hashed = found ? this.users.passwordHash(user) : null;
    // Same work whether or not the user exists or has a password (RELIABILITY O10).
    const ok = hashed !== null && password !== '' ? await this.hasher.verify(hashed, password, client) : await this.hasher.verifyDummy(password, client);
    if (!found) return { ok: false, reason: 'unknown-user' };
    if (!ok) return { ok: false, reason: 'wrong-password' };
    if (!found.enabled) return { ok: false, reason: 'disabled-user' };
    return { ok: true, user, groups: this.users.groups(user) };
  }

  /** A verify of the whole User-Password against the user's hash (or the dummy): one argon2id. */
  async spend(user: string, password: string, client: string): Promise<void> {
    try {
      await this.verify(user, password, client);
    } catch (err) {
      if (err instanceof HashQueueTimeout) throw err;
      // Hashing stopped (the server stops): the wait is over.
    }
  }

  async lookup(user: string): Promise<PrimaryResult> {
    const found = this.users.get(user);
    if (!found) return { ok: false, reason: 'unknown-user' };
    if (!found.enabled) return { ok: false, reason: 'disabled-user' };
    return { ok: true, user, groups: this.users.groups(user) };
  }

  async close(): Promise<void> {}
}
