/**
 * The server's copy, in memory, of what a code check reads of a user's tokens: their state and
 * their secrets, opened once. The code-only path (forEnabledUser) reads it instead of a SELECT
 * and an AES-GCM open per request (together about half of a request's CPU here).
 *
 * It holds only what the store holds: SqliteTokens fills it from reads made inside its write
 * transaction, writes the replay guard's transitions into it after their UPDATE succeeds, and
 * empties it whenever the rows may have changed some other way (another connection's commit,
 * seen as a new PRAGMA data_version; an administrative write on this connection; a batch rolled
 * back). The SQL compare-and-set stays the replay guard (RFC 6238 §5.2); this is a cache of it.
 *
 * Memory: no JS object per token. Columns are typed arrays, secrets and serials sit in one byte
 * buffer, user names in one UTF-16 buffer, and the two indexes (user → first slot, token id →
 * slot) are open-addressing tables of slot numbers: about 150 bytes a token, none of it on the V8
 * heap (as a Map of objects it was ~450, and the heap's growth doubled it). Secrets are in
 * plaintext here for the server's lifetime, as the master key that opens them already is;
 * emptying the mirror overwrites them.
 */
import { randomBytes } from 'node:crypto';
import type { OtpAlgorithm, OtpDigits, TokenType } from '../../tokens/record.js';
import type { TokenState, TokenWithSecret } from '../types.js';

const TYPES: readonly TokenType[] = ['totp', 'hotp'];
const ALGORITHMS: readonly OtpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

// Float64 columns (NaN is null).
const COUNTER = 0;
const LAST_STEP = 1;
const LOCKED_AT = 2;
const VALID_FROM = 3;
const VALID_UNTIL = 4;
const T0 = 5;
const F64 = 6;
// Int32 columns. The user's name and the number of its tokens (RUN) are kept at its first slot.
const ID = 0;
const PERIOD = 1;
const DRIFT = 2;
const FAILURES = 3;
const SECRET_AT = 4;
const SERIAL_AT = 5;
const NAME_AT = 6;
const RUN = 7;
const I32 = 8;
// Uint8 columns.
const TYPE = 0;
const ALGORITHM = 1;
const DIGITS = 2;
const ENABLED = 3;
const SECRET_LEN = 4;
const SERIAL_LEN = 5;
const NAME_LEN = 6;
const U8 = 7;

/** An empty entry of an index table (slots are stored + 1). */
const EMPTY = 0;
const MIN_SLOTS = 16;

const orNaN = (v: number | null): number => (v === null ? NaN : v);
const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);
const isInt32 = (v: number): boolean => (v | 0) === v;

export class TokenMirror {
  private slots = 0;
  private capacity = 0;
  private f64 = new Float64Array(0);
  private i32 = new Int32Array(0);
  private u8 = new Uint8Array(0);
  /** Secrets and serials (UTF-8), appended. */
  private bytes = Buffer.alloc(0);
  private byteCount = 0;
  /** User names as UTF-16 code units, compared with a request's name as they are. */
  private names = new Uint16Array(0);
  private nameCount = 0;
  /** user name → first slot + 1, and token id → slot + 1; linear probing, at most half full. */
  private byName = new Int32Array(0);
  private byId = new Int32Array(0);
  private heldUsers = 0;
  private emptied = 0;
  /** Names hash with a per-process seed, so no one can choose names that collide here. */
  private readonly seed = randomBytes(4).readInt32LE(0);

  /** Users held. */
  get users(): number {
    return this.heldUsers;
  }

  /** Tokens held. */
  get tokens(): number {
    return this.slots;
  }

  /** How many times it was emptied since it was made (tests, the bench). */
  get clears(): number {
    return this.emptied;
  }

  has(user: string): boolean {
    return this.firstSlot(user) >= 0;
  }

  /**
   * The user's tokens as the store would return them (new objects each time: a caller may change
   * them), or undefined when the user is not held. A secret is a view of the mirror's buffer, for
   * synchronous use only: the mirror overwrites it when emptied or grown.
   */
  get(user: string): TokenWithSecret[] | undefined {
    const first = this.firstSlot(user);
    if (first < 0) return undefined;
    const out: TokenWithSecret[] = [];
    const end = first + (this.i32[first * I32 + RUN] as number);
    for (let s = first; s < end; s++) out.push(this.tokenAt(s));
    return out;
  }

  /** Room for `tokens` tokens in all (the loader says how many it will put). */
  expect(tokens: number): void {
    this.reserve(tokens - this.slots, 0, 0);
  }

  /**
   * Holds a copy of the user's tokens. A user already held, or without tokens, is left as it is,
   * and so is one with a value the columns cannot hold (its requests read the store as before).
   */
  put(user: string, owned: readonly TokenWithSecret[]): void {
    if (owned.length === 0 || user.length > 255 || this.has(user)) return;
    let bytes = 0;
    for (const { token, secret } of owned) {
      const serialLength = Buffer.byteLength(token.serial);
      if (!fits(token) || secret.length > 255 || serialLength > 255) return;
      bytes += secret.length + serialLength;
    }
    this.reserve(owned.length, bytes, user.length);
    const first = this.slots;
    for (const { token, secret } of owned) this.write(this.slots++, token, secret);
    this.i32[first * I32 + RUN] = owned.length;
    this.i32[first * I32 + NAME_AT] = this.nameCount;
    this.u8[first * U8 + NAME_LEN] = user.length;
    for (let i = 0; i < user.length; i++) this.names[this.nameCount++] = user.charCodeAt(i);
    this.insert(this.byName, this.hashName(user), first);
    this.heldUsers++;
  }

  /** A TOTP code accepted (the store's commitTotp succeeded). */
  acceptedStep(id: number, step: number, drift: number): void {
    const s = this.slotOfId(id);
    if (s < 0) return;
    this.f64[s * F64 + LAST_STEP] = step;
    this.i32[s * I32 + DRIFT] = drift;
    this.setFailures(s, 0, null);
  }

  /** An HOTP code accepted (the store's commitHotp succeeded). */
  acceptedCounter(id: number, nextCounter: number): void {
    const s = this.slotOfId(id);
    if (s < 0) return;
    this.f64[s * F64 + COUNTER] = nextCounter;
    this.setFailures(s, 0, null);
  }

  /** The failure count and lock as the store now has them (a failure recorded, or an unlock). */
  failuresSet(id: number, failures: number, lockedAt: number | null): void {
    const s = this.slotOfId(id);
    if (s >= 0) this.setFailures(s, failures, lockedAt);
  }

  /** Forgets every token and overwrites the secrets. */
  clear(): void {
    this.bytes.fill(0, 0, this.byteCount);
    this.byteCount = 0;
    this.nameCount = 0;
    this.byName.fill(EMPTY);
    this.byId.fill(EMPTY);
    this.slots = 0;
    this.heldUsers = 0;
    this.emptied++;
  }

  private setFailures(s: number, failures: number, lockedAt: number | null): void {
    this.i32[s * I32 + FAILURES] = failures;
    this.f64[s * F64 + LOCKED_AT] = orNaN(lockedAt);
  }

  private write(s: number, t: TokenState, secret: Buffer): void {
    const f = s * F64;
    this.f64[f + COUNTER] = t.counter;
    this.f64[f + LAST_STEP] = orNaN(t.lastStep);
    this.f64[f + LOCKED_AT] = orNaN(t.lockedAt);
    this.f64[f + VALID_FROM] = orNaN(t.validFrom);
    this.f64[f + VALID_UNTIL] = orNaN(t.validUntil);
    this.f64[f + T0] = t.t0;
    const i = s * I32;
    this.i32[i + ID] = t.id;
    this.i32[i + PERIOD] = t.period;
    this.i32[i + DRIFT] = t.drift;
    this.i32[i + FAILURES] = t.failures;
    this.i32[i + RUN] = 0;
    const u = s * U8;
    this.u8[u + TYPE] = TYPES.indexOf(t.type);
    this.u8[u + ALGORITHM] = ALGORITHMS.indexOf(t.algorithm);
    this.u8[u + DIGITS] = t.digits;
    this.u8[u + ENABLED] = t.enabled ? 1 : 0;
    this.i32[i + SECRET_AT] = this.byteCount;
    this.u8[u + SECRET_LEN] = secret.length;
    this.byteCount += secret.copy(this.bytes, this.byteCount);
    this.i32[i + SERIAL_AT] = this.byteCount;
    const serialLength = this.bytes.write(t.serial, this.byteCount, 'utf8');
    this.u8[u + SERIAL_LEN] = serialLength;
    this.byteCount += serialLength;
    this.insert(this.byId, hashId(t.id), s);
  }

  private tokenAt(s: number): TokenWithSecret {
    const f = s * F64;
    const i = s * I32;
    const u = s * U8;
    const serialAt = this.i32[i + SERIAL_AT] as number;
    const secretAt = this.i32[i + SECRET_AT] as number;
    const token: TokenState = {
      id: this.i32[i + ID] as number,
      serial: this.bytes.toString('utf8', serialAt, serialAt + (this.u8[u + SERIAL_LEN] as number)),
      type: TYPES[this.u8[u + TYPE] as number] as TokenType,
      algorithm: ALGORITHMS[this.u8[u + ALGORITHM] as number] as OtpAlgorithm,
      digits: this.u8[u + DIGITS] as OtpDigits,
      period: this.i32[i + PERIOD] as number,
      t0: this.f64[f + T0] as number,
      counter: this.f64[f + COUNTER] as number,
      lastStep: orNull(this.f64[f + LAST_STEP] as number),
      drift: this.i32[i + DRIFT] as number,
      failures: this.i32[i + FAILURES] as number,
      lockedAt: orNull(this.f64[f + LOCKED_AT] as number),
      enabled: this.u8[u + ENABLED] === 1,
      validFrom: orNull(this.f64[f + VALID_FROM] as number),
      validUntil: orNull(this.f64[f + VALID_UNTIL] as number),
    };
    return { token, secret: this.bytes.subarray(secretAt, secretAt + (this.u8[u + SECRET_LEN] as number)) };
  }

  /** FNV-1a over the name's UTF-16 code units, from the seed. */
  private hashName(user: string): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** The user's first slot, or -1. (Before the first put the table is empty: every entry undefined.) */
  private firstSlot(user: string): number {
    const table = this.byName;
    const mask = table.length - 1;
    let at = this.hashName(user) & mask;
    for (let entry = table[at]; entry !== undefined && entry !== EMPTY; entry = table[at]) {
      if (this.nameIs(entry - 1, user)) return entry - 1;
      at = (at + 1) & mask;
    }
    return -1;
  }

  private nameIs(first: number, user: string): boolean {
    if (this.u8[first * U8 + NAME_LEN] !== user.length) return false;
    const at = this.i32[first * I32 + NAME_AT] as number;
    for (let i = 0; i < user.length; i++) if (this.names[at + i] !== user.charCodeAt(i)) return false;
    return true;
  }

  private slotOfId(id: number): number {
    const table = this.byId;
    const mask = table.length - 1;
    let at = hashId(id) & mask;
    for (let entry = table[at]; entry !== undefined && entry !== EMPTY; entry = table[at]) {
      if (this.i32[(entry - 1) * I32 + ID] === id) return entry - 1;
      at = (at + 1) & mask;
    }
    return -1;
  }

  private insert(table: Int32Array, hash: number, slot: number): void {
    const mask = table.length - 1;
    let at = hash & mask;
    while (table[at] !== EMPTY) at = (at + 1) & mask;
    table[at] = slot + 1;
  }

  /** Room for `count` more tokens, `bytes` more secret and serial bytes and `nameUnits` more name units. */
  private reserve(count: number, bytes: number, nameUnits: number): void {
    if (this.slots + count > this.capacity) {
      let cap = Math.max(MIN_SLOTS, this.capacity);
      while (this.slots + count > cap) cap = Math.ceil(cap * 1.5);
      this.f64 = grown(this.f64, cap * F64);
      this.i32 = grown(this.i32, cap * I32);
      this.u8 = grown(this.u8, cap * U8);
      this.capacity = cap;
      this.reindex();
    }
    if (this.byteCount + bytes > this.bytes.length) {
      const next = Buffer.alloc(Math.max(this.byteCount + bytes, Math.ceil(this.bytes.length * 1.5), 1024));
      this.bytes.copy(next, 0, 0, this.byteCount);
      this.bytes.fill(0); // the old copy of the secrets does not linger until it is collected
      this.bytes = next;
    }
    if (this.nameCount + nameUnits > this.names.length) {
      this.names = grown(this.names, Math.max(this.nameCount + nameUnits, Math.ceil(this.names.length * 1.5), 1024));
    }
  }

  /** Index tables at least twice the capacity (a power of two), rebuilt from the columns. */
  private reindex(): void {
    let size = 1;
    while (size < this.capacity * 2) size *= 2;
    this.byName = new Int32Array(size);
    this.byId = new Int32Array(size);
    for (let s = 0; s < this.slots; s++) {
      this.insert(this.byId, hashId(this.i32[s * I32 + ID] as number), s);
      if ((this.i32[s * I32 + RUN] as number) > 0) this.insert(this.byName, this.hashName(this.nameOf(s)), s);
    }
  }

  private nameOf(first: number): string {
    const at = this.i32[first * I32 + NAME_AT] as number;
    return String.fromCharCode(...this.names.subarray(at, at + (this.u8[first * U8 + NAME_LEN] as number)));
  }
}

/** Values the Int32 columns can hold (ids, periods and drifts in any real store). */
const fits = (t: TokenState): boolean => isInt32(t.id) && isInt32(t.period) && isInt32(t.drift) && isInt32(t.failures);

/** Integer mixing (a multiplicative hash): consecutive ids spread over the table. */
const hashId = (id: number): number => Math.imul(id ^ (id >>> 16), 0x45d9f3b) >>> 0;

function grown<T extends Float64Array | Int32Array | Uint8Array | Uint16Array>(a: T, length: number): T {
  const next = new (a.constructor as new (n: number) => T)(length);
  next.set(a);
  return next;
}
