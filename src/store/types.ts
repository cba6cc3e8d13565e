/**
 * Store interfaces. auth/ and cli/ depend on these, never on the SQLite implementation.
 * Every method is synchronous: the SQLite store answers in microseconds and a synchronous
 * call is what makes each state transition atomic with respect to the event loop.
 */
import type { OtpAlgorithm, OtpDigits, TokenRecord, TokenType } from '../tokens/record.js';

export interface StoredUser {
  name: string;
  /** false for users created without a password (e.g. by `import csv --create-users`). */
  hasPassword: boolean;
  enabled: boolean;
  createdAt: number; // Unix seconds
}

export interface UserStore {
  /** Returns false when the user already exists. */
  add(name: string, passwordHash: string | null): boolean;
  setPassword(name: string, passwordHash: string): boolean;
  delete(name: string): boolean;
  get(name: string): StoredUser | undefined;
  /** True when the user exists and is disabled (one column: this is on every request). */
  isDisabled(name: string): boolean;
  /** The argon2id hash, or null when the user has no password or does not exist. */
  passwordHash(name: string): string | null;
  list(): StoredUser[];
  /** Creates the user without a password when missing; returns true when it was created. */
  ensure(name: string): boolean;
  setEnabled(name: string, enabled: boolean): boolean;
  /** Local groups, used by [[reply]] rules. */
  groups(name: string): string[];
  addToGroup(name: string, group: string): boolean;
  removeFromGroup(name: string, group: string): boolean;
}

export interface StoredToken {
  id: number;
  serial: string;
  type: TokenType;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  period: number;
  t0: number;
  /** HOTP: the next counter value to expect (RFC 4226 §7.2). */
  counter: number;
  /** TOTP: the last accepted time step; a code at or before it is a replay (RFC 6238 §5.2). */
  lastStep: number | null;
  /** Learned clock drift in steps (RFC 6238 §6). */
  drift: number;
  /** Consecutive failures (RFC 4226 §7.3). */
  failures: number;
  /** Unix seconds when failures reached otp.max_failures; null when not locked. */
  lockedAt: number | null;
  enabled: boolean;
  user: string | null;
  issuer: string | null;
  manufacturer: string | null;
  model: string | null;
  validFrom: number | null;
  validUntil: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** What checking a code needs of a token: the request path reads only these columns. */
export type TokenState = Pick<
  StoredToken,
  'id' | 'serial' | 'type' | 'algorithm' | 'digits' | 'period' | 't0' | 'counter' | 'lastStep' | 'drift' | 'failures' | 'lockedAt' | 'enabled' | 'validFrom' | 'validUntil'
>;

/** The server's token mirror (sqlite/token-mirror.ts): what it holds, and how often it was dropped. */
export interface TokenMirrorStats {
  users: number;
  tokens: number;
  clears: number;
}

export interface TokenWithSecret {
  token: TokenState;
  /** Unsealed key bytes. Never logged, never printed. */
  secret: Buffer;
}

export interface ImportOptions {
  /** Replace tokens whose serial is already stored (otherwise the import is refused). */
  replace: boolean;
  /** Create users named by records' `user` field when missing (no password). */
  createUsers: boolean;
}

export interface ImportResult {
  inserted: number;
  replaced: number;
  usersCreated: number;
}

export interface TokenStore {
  /**
   * All records in one transaction. Throws StoreError 'serial-exists' (listing serials) when
   * a serial is stored and !replace, 'unknown-user' when a record's user is missing and
   * !createUsers; then nothing is written.
   */
  importMany(records: readonly TokenRecord[], options: ImportOptions, onProgress?: (done: number) => void): ImportResult;
  existingSerials(serials: readonly string[]): string[];
  get(serial: string): StoredToken | undefined;
  list(filter?: { user?: string }): StoredToken[];
  /** The user's tokens with their secrets unsealed (a token whose seal fails is left out and reported via onSealError). */
  forUser(user: string): TokenWithSecret[];
  /**
   * forUser and the user's enabled flag in one read (the code-only path): null when the user is
   * disabled. A user unknown to the users table (a directory user) is not a disabled one.
   */
  forEnabledUser(user: string): TokenWithSecret[] | null;
  withSecret(serial: string): TokenWithSecret | undefined;
  assign(serial: string, user: string | null): boolean;
  unassignAll(user: string): number;
  setEnabled(serial: string, enabled: boolean): boolean;
  delete(serial: string): boolean;
  /** Clears failures and lock. */
  unlock(serial: string): boolean;
  unlockAll(user: string): number;
  /**
   * TOTP replay guard, one atomic transition: succeeds only if step > lastStep and the token is not
   * locked; stores step and drift, clears failures, sets lastUsedAt. false = replay (someone got
   * there first) or a lock set since the token was read.
   */
  commitTotp(id: number, step: number, drift: number, now: number): boolean;
  /** HOTP: succeeds only if nextCounter > counter; same side effects as commitTotp. */
  commitHotp(id: number, nextCounter: number, now: number): boolean;
  /** Atomic increment; sets lockedAt when the count reaches maxFailures. Returns the new count. */
  recordFailure(id: number, now: number, maxFailures: number): number;
  /** Resync (RFC 4226 §7.4): store drift (TOTP, with lastStep) or counter (HOTP); clears failures. */
  resync(id: number, values: { drift: number; lastStep: number | null; counter: number }): void;
  /**
   * Group commit (the server turns it on): the replay-guard writes of one event-loop turn share one
   * transaction. Each compare-and-set answer is final when it runs; it is committed once
   * settled(), and durable (store.synchronous) once durable().
   * It also turns on the token mirror (sqlite/token-mirror.ts), which forEnabledUser reads: its
   * coherence check runs at the start of each batch, so one never goes without the other.
   */
  groupCommits(): void;
  /** A Reject that wrote nothing writes as a wrong code's does, changing nothing (RELIABILITY O10). */
  evenOutReject(): void;
  /** Resolves when every write made so far is committed; rejects if its batch was rolled back. */
  settled(): Promise<void>;
  /** settled(), and on disk so that an OS crash keeps it (store.synchronous); rejects if not. */
  durable(): Promise<void>;
}

export interface StoredChallenge {
  user: string;
  client: string;
  /** Groups found by the primary credential, for reply attributes when the code arrives. */
  groups: readonly string[];
  createdAt: number;
  expiresAt: number;
}

export interface ChallengeStore {
  /** Stores the State (its SHA-256, never the raw value) for one answer. */
  create(state: Buffer, challenge: StoredChallenge): void;
  /**
   * Atomically removes and returns the challenge of this State made for `user` through `client`;
   * undefined when unknown, used, or made for another user or NAS (RFC 2865 §5.24: State is
   * between the server and the client it sent it to; it is then left for its own answer).
   */
  take(state: Buffer, user: string, client: string, now: number): { challenge: StoredChallenge; expired: boolean } | undefined;
  purgeExpired(now: number): number;
}

export interface StoredAppPassword {
  id: number;
  user: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface AppPasswordStore {
  create(user: string, label: string, hash: string): StoredAppPassword;
  list(user: string): StoredAppPassword[];
  /** Hashes of the user's active app passwords, with ids. */
  hashes(user: string): Array<{ id: number; hash: string }>;
  touch(id: number, now: number): void;
  revoke(user: string, id: number): boolean;
  revokeAll(user: string): number;
}

/** What an auto client's first Access-Request decided on one server (RELIABILITY B8). */
export interface ClientMaDecision {
  client: string;
  ma: 'yes' | 'no';
  decidedAt: number; // Unix seconds
}

export interface ClientMaStore {
  record(server: string, client: string, ma: 'yes' | 'no', at: number): void;
  /** Forgets the server's decisions but these clients' (a start keeps none: B8, they do not persist). */
  retain(server: string, clients: readonly string[]): void;
  list(server: string): ClientMaDecision[];
}

export interface Store {
  users: UserStore;
  tokens: TokenStore;
  challenges: ChallengeStore;
  appPasswords: AppPasswordStore;
  clientMa: ClientMaStore;
  close(): void;
}

export type StoreErrorCode = 'serial-exists' | 'unknown-user' | 'unknown-serial' | 'seal-failed' | 'key-file' | 'database';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
