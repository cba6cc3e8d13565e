/**
 * The bench's store: TOTP tokens (one per user u<i>, secrets from common.ts), PAP users p<i>, all
 * with one argon2id hash of BENCH_PASSWORD (each verification still costs a full argon2id). Built
 * once into a template; every server run gets a fresh copy, so replay state never carries over.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArgon2Hasher } from '../auth/passwords.js';
import { openStore } from '../store/open.js';
import type { Synchronous } from '../store/sqlite/open.js';
import type { TokenRecord } from '../tokens/record.js';
import { BENCH_PASSWORD, PERIOD, papUser, serialOf, tokenSecret, tokenUser } from './common.js';

export interface Template {
  root: string;
  db: string;
  key: string;
  tokens: number;
  papUsers: number;
  buildSeconds: number;
  /** store.synchronous of every server run on it (--synchronous). */
  synchronous: Synchronous;
}

export async function buildTemplate(tokens: number, papUsers: number, synchronous: Synchronous): Promise<Template> {
  const started = Date.now();
  const root = mkdtempSync(join(tmpdir(), 'radius-otp-bench-'));
  const dir = join(root, 'template');
  mkdirSync(dir, { mode: 0o700 });
  const db = join(dir, 'radius-otp.db');
  const key = join(dir, 'master.key');
  const store = openStore({ store: { path: db, key_file: key, synchronous } }, () => undefined);
  try {
    const hasher = await createArgon2Hasher(1);
    const hash = await hasher.hash(BENCH_PASSWORD);
    const CHUNK = 10_000;
    for (let from = 0; from < tokens; from += CHUNK) {
      const records: TokenRecord[] = [];
      for (let i = from; i < Math.min(tokens, from + CHUNK); i++) {
        records.push({ serial: serialOf(i), type: 'totp', algorithm: 'SHA1', digits: 6, period: PERIOD, t0: 0, counter: 0, drift: 0, secret: tokenSecret(i), user: tokenUser(i) });
      }
      store.tokens.importMany(records, { replace: false, createUsers: true });
    }
    store.db.prepare('UPDATE users SET password_hash = ?').run(hash);
    store.db.transaction(() => {
      for (let i = 0; i < papUsers; i++) store.users.add(papUser(i), hash);
    })();
    store.db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    store.close();
  }
  return { root, db, key, tokens, papUsers, buildSeconds: (Date.now() - started) / 1000, synchronous };
}

export interface ServerSetup {
  /** [auth] primary for the 127.0.0.1 client. */
  primary: 'local' | 'none';
  audit: boolean;
  metricsPort?: number;
  /** [server] hash_threads (argon2id verifications at once); default the config's (0 = cores). */
  hashThreads?: number;
}

export const CLIENT_SECRET = 'bench-client-secret-0123456789';

/** A fresh directory with a copy of the template store and a config for it; returns the config path. */
export function instance(t: Template, name: string, setup: ServerSetup): { dir: string; config: string; auditFile: string } {
  const dir = join(t.root, name);
  mkdirSync(dir, { mode: 0o700 });
  const db = join(dir, 'radius-otp.db');
  const key = join(dir, 'master.key');
  copyFileSync(t.db, db);
  copyFileSync(t.key, key);
  chmodSync(db, 0o600);
  chmodSync(key, 0o600);
  const auditFile = join(dir, 'audit.log');
  const config = join(dir, 'radius.conf');
  writeFileSync(
    config,
    `[server]
name = "bench"
listen = ["127.0.0.1:0"]
duplicate_cache_seconds = 30
hash_threads = ${setup.hashThreads ?? 0}
[store]
path = "${db}"
key_file = "${key}"
synchronous = "${t.synchronous}"
[auth]
primary = "${setup.primary}"
users_without_token = "password-only"
[log]
level = "warn"
audit = "${setup.audit ? auditFile : ''}"
[metrics]
listen = "${setup.metricsPort === undefined ? '' : `127.0.0.1:${setup.metricsPort}`}"
[[client]]
name = "bench"
address = "127.0.0.1"
secret = "${CLIENT_SECRET}"
`,
    { mode: 0o600 },
  );
  return { dir, config, auditFile };
}
