/** The SQLite schema. user_version says which migration ran last. */
import type { Database } from 'better-sqlite3';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE user_groups (
    user  TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    grp   TEXT NOT NULL,
    PRIMARY KEY (user, grp)
  ) STRICT;
  -- tokens.user is not a foreign key: tokens are also assigned to directory (LDAP) users.
  CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    serial       TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL CHECK (type IN ('totp', 'hotp')),
    algorithm    TEXT NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits       INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
    period       INTEGER NOT NULL CHECK (period > 0),
    t0           INTEGER NOT NULL DEFAULT 0,
    counter      INTEGER NOT NULL DEFAULT 0,
    last_step    INTEGER,
    drift        INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_at    INTEGER,
    enabled      INTEGER NOT NULL DEFAULT 1,
    user         TEXT,
    issuer       TEXT,
    manufacturer TEXT,
    model        TEXT,
    valid_from   INTEGER,
    valid_until  INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    secret       BLOB NOT NULL
  ) STRICT;
  CREATE INDEX tokens_user ON tokens(user);
  CREATE TABLE challenges (
    state_hash BLOB PRIMARY KEY,
    user       TEXT NOT NULL,
    client     TEXT NOT NULL,
    groups     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX challenges_expiry ON challenges(expires_at);
  CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY,
    user         TEXT NOT NULL,
    label        TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
  ) STRICT;
  CREATE INDEX app_passwords_user ON app_passwords(user);
  `,
  `
  -- RELIABILITY B8: what auto clients' first requests decided, per server, shown by client list.
  CREATE TABLE client_ma (
    server     TEXT NOT NULL,
    client     TEXT NOT NULL,
    required   INTEGER NOT NULL CHECK (required IN (0, 1)),
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (server, client)
  ) STRICT;
  `,
  `
  -- RELIABILITY O10: a Reject that wrote nothing else counts itself here (tokens.ts
  -- evenOutReject), so that its answer waits for a commit that writes, as a wrong code's does.
  CREATE TABLE reject_writes (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL
  ) STRICT;
  INSERT INTO reject_writes (id, count) VALUES (1, 0);
  `,
];

/**
 * A store written by a later radius-otp (a downgrade after an upgrade) is refused, read-only
 * or not: this code would write rows without columns it does not know of.
 */
export function checkVersion(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`schema version ${version} is newer than this radius-otp knows (${MIGRATIONS.length}): run the radius-otp that wrote it, or restore a backup made for this one`);
  }
}

export function migrate(db: Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
