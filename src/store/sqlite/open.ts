/**
 * Opens the embedded SQLite store (better-sqlite3, WAL). A process killed at any moment loses no
 * committed transaction: WAL with synchronous = NORMAL survives a process crash. An OS crash or
 * power loss can undo the last commits that no checkpoint has synced yet (the server's thread
 * passes every 5-100 ms): `store.synchronous = "full"` syncs them before they count, in each
 * COMMIT for the CLI and after the server's group commits (wal-sync.ts).
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, type Store } from '../types.js';
import { SqliteAppPasswords } from './app-passwords.js';
import { SqliteChallenges } from './challenges.js';
import { SqliteClientMa } from './client-ma.js';
import { checkVersion, migrate } from './schema.js';
import { SqliteTokens, type SecretSealer } from './tokens.js';
import { SqliteUsers } from './users.js';

export interface OpenStoreOptions {
  path: string;
  sealer: SecretSealer;
  now?: () => number;
  /** Reads only (a dry run): the database must exist, nothing is created and every write is refused. */
  readOnly?: boolean;
  /** A stored secret failed to unseal (tampered, or another key): the token fails closed; alert on it. */
  onSealError: (serial: string, err: Error) => void;
  /** "full": commits are on disk before they count; "normal" (default): they survive a killed process. */
  synchronous?: Synchronous;
}

/** store.synchronous (config/schema.ts), as SQLite names its levels (sqlite.org/pragma.html#pragma_synchronous). */
export type Synchronous = 'full' | 'normal';

export type SqliteStore = Store & { users: SqliteUsers; tokens: SqliteTokens; db: Database.Database };

export function openSqliteStore(opts: OpenStoreOptions): SqliteStore {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  let db: Database.Database;
  try {
    const readOnly = opts.readOnly === true;
    if (opts.path !== ':memory:' && !readOnly) {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
      // Sealed secrets and password hashes: the file is the owner's alone (SQLite gives -wal/-shm the same mode).
      closeSync(openSync(opts.path, 'a', 0o600));
    }
    // Not better-sqlite3's readonly: that connection would leave -wal and -shm files behind it.
    db = new Database(opts.path, { fileMustExist: readOnly });
    db.pragma(`query_only = ${readOnly ? 'ON' : 'OFF'}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // A read-only store is read as it stands: a store of an older version is migrated by the
    // next command that writes (what the readers need has been there since the first version).
    checkVersion(db);
    if (!readOnly) migrate(db);
  } catch (err) {
    throw new StoreError('database', `cannot open the store ${opts.path}: ${(err as Error).message}`);
  }
  const tokens = new SqliteTokens(db, opts.sealer, now, opts.onSealError);
  return {
    db,
    users: new SqliteUsers(db, now, () => tokens.forgetMirror()),
    tokens,
    challenges: new SqliteChallenges(db),
    appPasswords: new SqliteAppPasswords(db, now),
    clientMa: new SqliteClientMa(db),
    close: () => {
      tokens.close();
      db.close();
    },
  };
}
