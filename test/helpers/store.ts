/** A store on a temp directory with a real Sealer, for tests. */
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore, type Synchronous } from '../../src/store/sqlite/open.js';
import type { SecretSealer } from '../../src/store/sqlite/tokens.js';
import type { TokenRecord } from '../../src/tokens/record.js';
import { tempDir } from './tmp.js';

/**
 * A reversible stand-in sealer that still binds the token id (not secure: tests only). Its blobs
 * start as real ones do, version 1 then the key id (0), so the store's key checks see them alike.
 */
export const fakeSealer: SecretSealer = {
  keyId: 0,
  seal: (id, secret) => Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), Buffer.from(`${id}:`), secret]),
  open: (id, blob) => {
    const prefix = Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), Buffer.from(`${id}:`)]);
    if (!blob.subarray(0, prefix.length).equals(prefix)) throw new Error('seal-failed');
    return blob.subarray(prefix.length);
  },
};

export function tempStore(
  opts: { sealer?: SecretSealer; now?: () => number; onSealError?: (s: string, e: Error) => void; synchronous?: Synchronous } = {},
): {
  store: SqliteStore;
  dir: string;
  path: string;
} {
  const dir = tempDir('radius-otp-store-');
  const path = join(dir, 'db', 'radius-otp.db');
  const sealErrors: string[] = [];
  const store = openSqliteStore({
    path,
    sealer: opts.sealer ?? fakeSealer,
    now: opts.now,
    onSealError: opts.onSealError ?? ((serial) => sealErrors.push(serial)),
    synchronous: opts.synchronous,
  });
  return { store, dir, path };
}

export function totpRecord(serial: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    serial,
    type: 'totp',
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    t0: 0,
    counter: 0,
    drift: 0,
    secret: Buffer.from('12345678901234567890'),
    ...overrides,
  };
}
