import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { ChallengeStore, StoredChallenge } from '../types.js';

/** Only a hash of the State is stored: a database dump cannot answer a pending challenge. */
const hashState = (state: Buffer): Buffer => createHash('sha256').update(state).digest();

interface ChallengeRow {
  user: string;
  client: string;
  groups: string;
  created_at: number;
  expires_at: number;
}

export class SqliteChallenges implements ChallengeStore {
  private readonly q;

  constructor(db: Database) {
    this.q = {
      create: db.prepare('INSERT INTO challenges (state_hash, user, client, groups, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      // Single use: the row is gone the moment it is read (RETURNING makes it one statement).
      take: db.prepare<[Buffer, string, string], ChallengeRow>('DELETE FROM challenges WHERE state_hash = ? AND user = ? AND client = ? RETURNING user, client, groups, created_at, expires_at'),
      purge: db.prepare('DELETE FROM challenges WHERE expires_at <= ?'),
    };
  }

  create(state: Buffer, c: StoredChallenge): void {
    this.q.create.run(hashState(state), c.user, c.client, JSON.stringify(c.groups), c.createdAt, c.expiresAt);
  }

  take(state: Buffer, user: string, client: string, now: number): { challenge: StoredChallenge; expired: boolean } | undefined {
    const r = this.q.take.get(hashState(state), user, client);
    if (!r) return undefined;
    const challenge = { user: r.user, client: r.client, groups: JSON.parse(r.groups) as string[], createdAt: r.created_at, expiresAt: r.expires_at };
    return { challenge, expired: now >= r.expires_at };
  }

  purgeExpired(now: number): number {
    return this.q.purge.run(now).changes;
  }
}
