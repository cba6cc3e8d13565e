/**
 * Token secrets at rest (RELIABILITY §6 S1–S3).
 *
 * Blob layout: version (1 byte, = 1) | key id (4, big-endian) | nonce (12) | GCM tag (16) | ciphertext.
 * AES-256-GCM with a random 96-bit nonce (NIST SP 800-38D §8.2.2); the additional data binds the
 * blob to its token id and to the key that sealed it, so a blob copied to another row fails (S1).
 * Any failure is StoreError 'seal-failed': the token fails closed, never falls back (S2).
 *
 * Key file: one 32-byte key as 64 hex digits and a newline, mode 0600; a file that group or
 * others can reach is refused before it is read (S3). Error messages name the path, never the
 * content.
 *
 * Rotation (S3, rotate-key.ts) re-seals every secret under a new key, written first as
 * `KEY_FILE.new` and renamed over the key file once the store has committed. A sealer that meets
 * a blob of another key reads the key file (and `.new`) again, at most once a second, and takes
 * the key that sealed it: a server keeps running across a rotation made beside it.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, randomFillSync, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError } from './types.js';

const VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 4 + NONCE_BYTES + TAG_BYTES;
/** 64 hex digits and a newline; anything longer is not a key file, so it is not read whole. */
const MAX_KEY_FILE_BYTES = 128;
const KEY_HEX = /^[0-9a-fA-F]{64}\r?\n?$/;

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

/** First 4 bytes of SHA-256(key), big-endian: which key sealed a record. Not secret. */
export function keyIdOf(key: Buffer): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

/** A key id as shown and in file names: 8 hex digits. */
export const keyIdHex = (keyId: number): string => keyId.toString(16).padStart(8, '0');

/** The file a rotation writes its new key to before the store commits (rotate-key.ts). */
export const newKeyFile = (path: string): string => `${path}.new`;

/**
 * The key file itself when `path` is a symbolic link to it (a key kept on another volume): a
 * rotation writes beside it and renames over it, not over the link.
 */
export function keyFileTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** How often a sealer may read its key files again for a blob of another key (ms). */
const RELOAD_EVERY_MS = 1000;

export class Sealer {
  #keyId: number;
  #key: KeyObject;
  /** The key file as configured, when loaded from one: read again for a blob of another key. */
  readonly #path: string | undefined;
  #reloadedAt = -Infinity;

  private constructor(key: Buffer, path?: string) {
    if (key.length !== KEY_BYTES) throw new StoreError('key-file', `the sealing key must be ${KEY_BYTES} bytes`);
    this.#key = createSecretKey(key);
    this.#keyId = keyIdOf(key);
    this.#path = path;
  }

  /** First 4 bytes of SHA-256(key), big-endian: which key sealed a record. Not secret. */
  get keyId(): number {
    return this.#keyId;
  }

  /** A sealer over a key held in memory (tests only). */
  static forTests(key: Buffer): Sealer {
    return new Sealer(key);
  }

  /**
   * Writes this sealer's key to a new file `path` (0600, synced; never replaces a file), for
   * the backups it still opens after a rotation. A file there already holding this key is kept.
   */
  writeKeyTo(path: string): void {
    const key = this.#key.export();
    try {
      writeKeyFile(path, key);
      const fd = openKeyFile(path) ?? fail(`key file ${path} is missing right after it was written`);
      try {
        const written = readKeyFile(fd, path);
        const same = written.equals(key);
        written.fill(0);
        if (!same) throw new StoreError('key-file', `${path} exists and holds another key: move it away first`);
      } finally {
        closeSync(fd);
      }
    } finally {
      key.fill(0);
    }
  }

  /**
   * Loads the key file, creating it (0600, parent directories 0700) when missing and `create`.
   * Throws StoreError 'key-file' when it is missing and !create, reachable by group or others,
   * not a regular file, unreadable, or not one 256-bit key in hex.
   */
  static fromKeyFile(path: string, opts: { create: boolean }): Sealer {
    let fd = openKeyFile(path);
    if (fd === null) {
      if (!opts.create) throw new StoreError('key-file', `key file ${path} does not exist`);
      createKeyFile(path);
      fd = openKeyFile(path) ?? fail(`key file ${path} is missing right after it was created`);
    }
    try {
      return new Sealer(readKeyFile(fd, path), path);
    } finally {
      closeSync(fd);
    }
  }

  /** A new random key, held in memory until written (writeNewKeyFile): a rotation's next key. */
  static generate(): Sealer {
    const key = randomBytes(KEY_BYTES);
    try {
      return new Sealer(key);
    } finally {
      key.fill(0);
    }
  }

  /** Writes this sealer's key to `path` (0600, synced), replacing a file there (a stale rotation's .new). */
  writeNewKeyFile(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') fail(`cannot remove ${path} (${errnoCode(err)})`);
    }
    this.writeKeyTo(path);
  }

  seal(tokenId: number, secret: Buffer): Buffer {
    const blob = Buffer.allocUnsafe(HEADER_BYTES + secret.length);
    blob[0] = VERSION;
    blob.writeUInt32BE(this.keyId, 1);
    const nonce = nextNonce(blob.subarray(5, 5 + NONCE_BYTES));
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad(tokenId));
    const ciphertext = cipher.update(secret);
    cipher.final(); // GCM: no bytes held back
    ciphertext.copy(blob, HEADER_BYTES);
    cipher.getAuthTag().copy(blob, 5 + NONCE_BYTES);
    return blob;
  }

  /**
   * Whether the key file (where the configured path points now) still holds this sealer's key.
   * True for a sealer without a key file (tests); false when it cannot be read.
   */
  keyFileCurrent(): boolean {
    return this.#path === undefined || holdsKey(keyFileTarget(this.#path), this.#keyId);
  }

  /**
   * The secret sealed for `tokenId`. Throws StoreError 'seal-failed' (details say why) for a
   * wrong version, another key's blob, a changed byte, or a blob sealed for another token.
   */
  open(tokenId: number, blob: Buffer): Buffer {
    const fail = (why: string) => new StoreError('seal-failed', `secret of token id ${tokenId} failed authentication`, [why]);
    if (blob.length < HEADER_BYTES) throw fail('blob too short');
    if (blob[0] !== VERSION) throw fail(`unknown seal version ${blob[0]}`);
    const keyId = blob.readUInt32BE(1);
    if (keyId !== this.#keyId && !this.#reload(keyId)) throw fail(`sealed by key id ${keyId}, this key is ${this.#keyId}`);
    const nonce = blob.subarray(5, 5 + NONCE_BYTES);
    const tag = blob.subarray(5 + NONCE_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.#aad(tokenId));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw fail('authentication tag mismatch');
    }
  }

  /**
   * A rotation beside this process (rotate-key.ts): takes the key of `keyId` if the key file,
   * or the rotation's `.new` file not yet renamed, now holds it. At most once a second: a blob of
   * a key nobody has (a restored store, a changed byte) must not read files on every request.
   */
  #reload(keyId: number): boolean {
    const now = performance.now();
    if (this.#path === undefined || now - this.#reloadedAt < RELOAD_EVERY_MS) return false;
    this.#reloadedAt = now;
    // Where the configured path points now (a link may have been moved), .new first: a rename
    // between the two reads then still finds the key in the key file.
    const target = keyFileTarget(this.#path);
    for (const path of [newKeyFile(target), target]) {
      const key = readKeyIfAny(path);
      if (key === null) continue;
      const found = keyIdOf(key) === keyId;
      if (found) {
        this.#key = createSecretKey(key);
        this.#keyId = keyId;
      }
      key.fill(0);
      if (found) return true;
    }
    return false;
  }

  #aad(tokenId: number): Buffer {
    return Buffer.from(`radius-otp:token:${tokenId}:key:${this.keyId}`, 'utf8');
  }
}

/**
 * Random 96-bit GCM nonces (NIST SP 800-38D §8.2.2), drawn from the CSPRNG a pool at a time:
 * one randomBytes call costs ~2 µs here however few bytes it returns, a quarter of a seal. Each
 * pooled nonce is handed out once, copied into `into`.
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 256);
let noncePoolUsed = NONCE_POOL.length;

function nextNonce(into: Buffer): Buffer {
  if (noncePoolUsed === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolUsed = 0;
  }
  NONCE_POOL.copy(into, 0, noncePoolUsed, (noncePoolUsed += NONCE_BYTES));
  return into;
}

function fail(message: string): never {
  throw new StoreError('key-file', message);
}

/** The key file opened for reading; null when it does not exist. */
function openKeyFile(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    return fail(`cannot open key file ${path} (${errnoCode(err)})`);
  }
}

/** Checks mode and type on the open descriptor (no race with a rename), then parses the hex. */
function readKeyFile(fd: number, path: string): Buffer {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new StoreError('key-file', `key file ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new StoreError('key-file', `key file ${path} is readable by group or others (mode ${mode}); chmod 600 it`);
  }
  const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
  let length = 0;
  for (let n; length < buf.length && (n = readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
  const text = buf.toString('latin1', 0, length);
  buf.fill(0);
  if (!KEY_HEX.test(text)) throw new StoreError('key-file', `key file ${path} does not hold one 256-bit key as 64 hex digits`);
  return Buffer.from(text.slice(0, KEY_BYTES * 2), 'hex');
}

/** The key in `path`, or null when it cannot be read as a key file (missing, wrong mode, not a key). */
function readKeyIfAny(path: string): Buffer | null {
  try {
    const fd = openKeyFile(path);
    if (fd === null) return null;
    try {
      return readKeyFile(fd, path);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** Whether `path` can be read as a key file and holds the key of `keyId`. */
function holdsKey(path: string, keyId: number): boolean {
  const key = readKeyIfAny(path);
  if (key === null) return false;
  const same = keyIdOf(key) === keyId;
  key.fill(0);
  return same;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Renames `from` (a rotation's new key, of id `keyId`) over `to` and syncs their directory: the
 * rename survives an OS crash. Done already (`from` gone, `to` holding that key: another process
 * finished the rotation first) counts as done.
 */
export function renameKeyFile(from: string, to: string, keyId: number): void {
  try {
    renameSync(from, to);
  } catch (err) {
    const done = errnoCode(err) === 'ENOENT' && holdsKey(to, keyId);
    if (!done) fail(`cannot rename ${from} to ${to} (${errnoCode(err)})`);
    return;
  }
  try {
    syncDir(dirname(to));
  } catch (err) {
    fail(`renamed ${from} to ${to}, but cannot sync ${dirname(to)} (${errnoCode(err)}): an OS crash now could undo the rename; run the command again`);
  }
}

/**
 * Writes a new random key: to a temporary file opened 'wx' with mode 0600, synced, then linked
 * into place. link() never replaces a file, so a key another process created first wins and is
 * the one loaded; a crash leaves either no key file or a whole one.
 */
function createKeyFile(path: string): void {
  const key = randomBytes(KEY_BYTES);
  try {
    writeKeyFile(path, key);
  } finally {
    key.fill(0);
  }
}

/** Writes `key` as a key file at `path` (0600, synced, then linked in: a file already there is kept). */
function writeKeyFile(path: string, key: Buffer): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StoreError('key-file', `cannot create the directory of key file ${path} (${errnoCode(err)})`);
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const text = Buffer.from(`${key.toString('hex')}\n`, 'latin1');
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    syncDir(dir); // the link survives an OS crash (a rotation commits only after it)
  } catch (err) {
    throw new StoreError('key-file', `cannot create key file ${path} (${errnoCode(err)})`);
  } finally {
    text.fill(0);
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing to remove when the temporary file was never created.
    }
  }
}
