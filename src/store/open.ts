/** Opens the configured store: the master key file (created 0600 when missing) and SQLite. */
import { existsSync, rmSync, statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { keyFileTarget, newKeyFile, renameKeyFile, Sealer } from './seal.js';
import { openSqliteStore, type SqliteStore } from './sqlite/open.js';
import type { SecretSealer } from './sqlite/tokens.js';
import { StoreError } from './types.js';

/**
 * The key file is created only for a store that holds no sealed secret: for one that does, a new
 * key could open none of them, and every token would fail closed while the server ran on. Then
 * the key file is taken away again and the store is refused (StoreError 'key-file').
 */
export function openStore(
  config: Pick<Config, 'store'>,
  onSealError: (serial: string, err: Error) => void,
  onNotice: (message: string) => void = () => {},
): SqliteStore {
  const { key_file: keyFile, path } = config.store;
  const created = !existsSync(keyFile);
  // SQLite takes an empty file for a new database: after a failed copy or restore, every user
  // would then be unknown and every token gone, without a word. A store is made in one step
  // (file and schema together), so an empty one beside an existing key file is such a copy.
  if (!created && statSync(path, { throwIfNoEntry: false })?.size === 0) {
    throw new StoreError('database', `${path} is empty (0 bytes) while its key file ${keyFile} exists: a failed copy or restore? Restore the database (radius-otp backup makes copies); an empty file is not taken for a new store`);
  }
  const sealer = Sealer.fromKeyFile(keyFile, { create: true });
  const store = openSqliteStore({ path, sealer, onSealError, synchronous: config.store.synchronous });
  let finished: boolean;
  try {
    finished = !created && finishRotation(store, keyFile);
  } catch (err) {
    store.close();
    throw err;
  }
  if (finished) {
    store.close();
    const target = keyFileTarget(keyFile);
    onNotice(`a key rotation was interrupted after the store was sealed again: ${newKeyFile(target)} renamed to ${target}`);
    return openStore(config, onSealError, onNotice);
  }
  if (created) {
    const sealed = store.tokens.sealedByOtherKeys();
    if (sealed > 0) {
      store.close();
      rmSync(keyFile);
      throw missingKeyFile(config, sealed);
    }
  }
  return store;
}

const missingKeyFile = ({ store: { key_file: keyFile, path } }: Pick<Config, 'store'>, sealed: number): StoreError =>
  new StoreError('key-file', `key file ${keyFile} does not exist, and ${path} holds token secrets sealed with the key it held (${sealed}): restore that file (a new key opens none of them)`);

/** Why a key opens none of `foreign` secrets of the store: serve refuses to start on it, a dry run says it. */
export const foreignSecrets = (path: string, foreign: number): string =>
  `token secrets in ${path} sealed with another master key: ${foreign}; this key opens none of them (restore the key file the store was made with, or delete those tokens and import them again)`;

/**
 * What a command that writes would meet at the key file, checked read-only (a dry run): throws
 * StoreError 'key-file' for a key file others may read or that cannot be read, a missing one
 * beside sealed secrets, or secrets it did not seal (unless an interrupted rotation's .new
 * did: the write would finish it). Creates nothing.
 */
export function checkKeyFile(config: Pick<Config, 'store'>, store: SqliteStore | undefined): void {
  const { key_file: keyFile, path } = config.store;
  const sealed = store?.tokens.count() ?? 0;
  if (!existsSync(keyFile)) {
    if (sealed > 0) throw missingKeyFile(config, sealed);
    return; // created by the write, for a store with no secret
  }
  const { keyId } = Sealer.fromKeyFile(keyFile, { create: false });
  if (store === undefined || pendingRotation(store, keyFile) !== null) return;
  const foreign = store.tokens.sealedByOtherKeys(keyId);
  if (foreign > 0) throw new StoreError('key-file', `${foreignSecrets(path, foreign)}: ${keyFile}`);
}

/**
 * Step 4 of an interrupted rotation (rotate-key.ts): KEY_FILE.new opens every secret of the
 * store. Renames it into place; true when it did.
 */
function finishRotation(store: SqliteStore, keyFile: string): boolean {
  if (!existsSync(newKeyFile(keyFileTarget(keyFile)))) return false;
  // Under the write lock, which a rotation holds from reading the key file to its commit: its
  // .new is looked at only once committed. Nothing is written: the transaction only holds it.
  const finish = store.db.transaction((): boolean => {
    const pending = pendingRotation(store, keyFile);
    if (pending === null) return false;
    renameKeyFile(pending.file, pending.target, pending.keyId);
    return true;
  });
  try {
    return finish.immediate();
  } catch (err) {
    // A rotation under way holds the lock past busy_timeout: left for the next open.
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw err;
  }
}

/**
 * A rotation stopped between its commit and its rename: KEY_FILE.new (`file`, for the key file
 * `target`) holds the key that sealed every secret of `store`. Null otherwise, and when .new is
 * gone (the rotation renamed it itself) or cannot be read. Read only: backup checks with it too.
 */
export function pendingRotation(store: SqliteStore, keyFile: string): { file: string; target: string; keyId: number } | null {
  const target = keyFileTarget(keyFile);
  const file = newKeyFile(target);
  let keyId: number;
  try {
    keyId = Sealer.fromKeyFile(file, { create: false }).keyId;
  } catch {
    return null;
  }
  return store.tokens.sealedOnlyWith(keyId) ? { file, target, keyId } : null;
}

function noKey(): never {
  throw new StoreError('key-file', 'the store is open read-only, without its key');
}

/** A read-only store seals nothing and opens nothing: its key file is not read. */
const NO_KEY: SecretSealer = { keyId: 0, seal: noKey, open: noKey };

/**
 * The configured store as it stands, for checks that must create nothing (a dry run, a file about
 * to be refused): no directory, database or key file is created, nothing is written; undefined
 * when there is no database yet (then no serial and no user exists).
 */
export function openStoreReadOnly(config: Pick<Config, 'store'>): SqliteStore | undefined {
  const { path } = config.store;
  if (!existsSync(path)) return undefined;
  return openSqliteStore({ path, sealer: NO_KEY, onSealError: () => {}, readOnly: true });
}
