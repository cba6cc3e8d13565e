/**
 * `radius-otp key rotate` (RELIABILITY S3): every token secret sealed again under a new master
 * key, in steps that a crash at any point leaves recoverable, with both keys on disk throughout:
 *
 *   1. the new key is written to KEY_FILE.new (0600, synced; a stale one is replaced);
 *   2. the old key is copied to KEY_FILE.<old key id> (0600): copies and backups of the store made
 *      before now open only with it;
 *   3. one transaction re-seals every secret under the new key and commits (the sealing itself
 *      is done before, outside the lock; the transaction writes the blobs of the secrets that
 *      have not changed since, and seals the others);
 *   4. KEY_FILE.new is renamed over KEY_FILE. For a store with no secret, this comes before the
 *      commit, under the write lock: an import that read the old key sees the change there.
 *
 * A crash before 3 commits leaves the store as it was (KEY_FILE.new is replaced by the next
 * rotation). A crash between 3 and 4 leaves a store that only KEY_FILE.new opens: the next open
 * of the store (openStore: the server's start, any command) finishes the rename. A server running
 * meanwhile reads its key again when it meets a secret of the new key (seal.ts), so it goes on.
 */
import { chownSync, statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { openStore } from './open.js';
import { keyFileTarget, keyIdHex, newKeyFile, renameKeyFile, Sealer } from './seal.js';
import type { SqliteStore } from './sqlite/open.js';
import { StoreError } from './types.js';

export interface Rotated {
  /** Token secrets sealed again. */
  tokens: number;
  keyId: number;
  previousKeyId: number;
  /** Where the previous key was copied. */
  previousKeyFile: string;
}

/** The name of the copy of a key that a rotation replaced: KEY_FILE.<its id, 8 hex digits>. */
export const previousKeyFile = (keyFile: string, keyId: number): string => `${keyFile}.${keyIdHex(keyId)}`;

/** Tests: `beforeLock` runs once the secrets are sealed ahead, `afterCommit` between steps 3 and 4 (a crash there). */
export function rotateKey(
  config: Pick<Config, 'store'>,
  hooks: { beforeLock?: () => void; afterCommit?: (store: SqliteStore) => void } = {},
): Rotated {
  const store = openStore(config, () => {});
  const keyFile = keyFileTarget(config.store.key_file);
  try {
    // S3: the key files stay the service's. Root writes them for the key file's owner; another
    // user would leave files the server cannot read.
    const owner = statSync(keyFile);
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && uid !== owner.uid) {
      throw new StoreError('key-file', `${keyFile} belongs to uid ${owner.uid}: run key rotate as that user (or as root)`);
    }
    const own = (path: string): void => {
      if (uid === 0) chownSync(path, owner.uid, owner.gid);
    };
    // The slow part before the lock (the server's commits wait while it is held): each secret
    // opened and sealed again with a new key, in memory. Under the lock, a secret changed since
    // (an import --replace, a rotation beside this one) is sealed again there.
    const next = Sealer.generate();
    const prepared = store.tokens.prepareReseal(next);
    hooks.beforeLock?.();
    // Durable before the key file is renamed: with store.synchronous = "normal" an OS crash
    // could undo the commit after the rename, leaving secrets of the old key beside the new one.
    store.db.pragma('synchronous = FULL');
    // The store's write lock from before the key file is read until the commit: a second
    // rotation waits here, then finds the secrets sealed with a key its key file does not hold
    // yet (the first's rename is still to come) and stops before writing anything.
    store.db.exec('BEGIN IMMEDIATE');
    let rotated: Rotated;
    try {
      const previous = Sealer.fromKeyFile(keyFile, { create: false });
      const others = store.tokens.sealedByOtherKeys(previous.keyId);
      if (others > 0) {
        throw new StoreError('key-file', `${others} token secret(s) in ${config.store.path} are not sealed with ${keyFile}: they would not open to be sealed again (nothing was changed)`);
      }
      next.writeNewKeyFile(newKeyFile(keyFile));
      own(newKeyFile(keyFile));
      const copy = previousKeyFile(keyFile, previous.keyId);
      previous.writeKeyTo(copy);
      own(copy);
      const tokens = store.tokens.reseal(next, prepared);
      // With no secret to seal again, the key file is replaced under the lock: an import that
      // read the old key and waits for the lock then finds its key gone (importMany), and seals
      // nothing with it.
      if (tokens === 0) renameKeyFile(newKeyFile(keyFile), keyFile, next.keyId);
      store.db.exec('COMMIT');
      rotated = { tokens, keyId: next.keyId, previousKeyId: previous.keyId, previousKeyFile: copy };
    } finally {
      if (store.db.inTransaction) store.db.exec('ROLLBACK');
    }
    hooks.afterCommit?.(store);
    if (rotated.tokens > 0) renameKeyFile(newKeyFile(keyFile), keyFile, rotated.keyId);
    return rotated;
  } finally {
    store.close();
  }
}
