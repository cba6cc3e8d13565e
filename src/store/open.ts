/** Opens the configured store: the master key file (created 0600 when missing) and SQLite. */
import type { Config } from '../config/schema.js';
import { Sealer } from './seal.js';
import { openSqliteStore, type SqliteStore } from './sqlite/open.js';

export function openStore(config: Pick<Config, 'store'>, onSealError: (serial: string, err: Error) => void): SqliteStore {
  const sealer = Sealer.fromKeyFile(config.store.key_file, { create: true });
  return openSqliteStore({ path: config.store.path, sealer, onSealError });
}
