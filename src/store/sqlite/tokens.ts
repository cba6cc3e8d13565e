import { resolve as absolute } from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import type { TokenRecord } from '../../tokens/record.js';
import { CommitPacer } from './commit-pacing.js';
import { TokenMirror } from './token-mirror.js';
import { WalSync } from './wal-sync.js';
import { isDisabledFlag, USER_ENABLED_SQL } from './users.js';
import {
  StoreError,
  type ImportOptions,
  type ImportResult,
  type StoredToken,
  type TokenMirrorStats,
  type TokenStore,
  type TokenState,
  type TokenWithSecret,
} from '../types.js';

/** A key id as stored in bytes 2-5 of a sealed secret (store/seal.ts). */
function keyIdBytes(keyId: number): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyId);
  return id;
}

/** What seals a token secret to its row (src/store/seal.ts). */
export interface SecretSealer {
  /** Which key seals: written into every sealed secret (store/seal.ts). */
  readonly keyId: number;
  seal(tokenId: number, secret: Buffer): Buffer;
  open(tokenId: number, blob: Buffer): Buffer;
  /**
   * Whether its key file still holds the key it seals with (read again now); absent for a
   * sealer without a key file. An import asks it under the write lock (importMany).
   */
  keyFileCurrent?(): boolean;
}

/** Secrets sealed again ahead of a rotation's transaction (prepareReseal): by token id, the blob each came from and its new one. */
export type Resealed = Map<number, { from: Buffer; to: Buffer }>;

/** What a replaced token keeps (importMany): user, enabled, last_step, counter, failures, locked_at. */
type KeptState = [string | null, number, number | null, number, number, number | null];

/** A batch of writes sharing one transaction (groupCommits), settled by its COMMIT. */
interface Batch {
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  /** Settles after `done`, once the COMMIT is on disk (WalSync), as the promise given to `adopt`. */
  durable: Promise<void>;
  adopt: (outcome: Promise<void>) => void;
  /** Compare-and-sets and failure counts written in it (commit-pacing.ts). */
  writes: number;
}

/** What Atomics.wait sleeps on: nothing ever wakes it, the timeout does. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * Rows are read as arrays (.raw()) and mapped by position, which costs less than better-sqlite3
 * building an object per row. STATE_COLUMNS are what a code check needs (TokenState): the
 * request path reads them and the sealed secret; listings read them and the rest (COLUMNS).
 */
const STATE_COLUMNS = 'id, serial, type, algorithm, digits, period, t0, counter, last_step, drift, failures, locked_at, enabled, valid_from, valid_until';
const COLUMNS = `${STATE_COLUMNS}, user, issuer, manufacturer, model, created_at, last_used_at`;
/** Where the column after STATE_COLUMNS sits (the secret, or user). */
const AFTER_STATE = 15;
/** Rows the mirror's loader reads in one event-loop turn (~1 ms of work here). */
const LOAD_ROWS = 256;

const stateOf = (a: unknown[]): TokenState => ({
  id: a[0] as number,
  serial: a[1] as string,
  type: a[2] as TokenState['type'],
  algorithm: a[3] as TokenState['algorithm'],
  digits: a[4] as TokenState['digits'],
  period: a[5] as number,
  t0: a[6] as number,
  counter: a[7] as number,
  lastStep: a[8] as number | null,
  drift: a[9] as number,
  failures: a[10] as number,
  lockedAt: a[11] as number | null,
  enabled: a[12] === 1,
  validFrom: a[13] as number | null,
  validUntil: a[14] as number | null,
});

const toToken = (a: unknown[]): StoredToken => ({
  ...stateOf(a),
  user: a[AFTER_STATE] as string | null,
  issuer: a[AFTER_STATE + 1] as string | null,
  manufacturer: a[AFTER_STATE + 2] as string | null,
  model: a[AFTER_STATE + 3] as string | null,
  createdAt: a[AFTER_STATE + 4] as number,
  lastUsedAt: a[AFTER_STATE + 5] as number | null,
});

export class SqliteTokens implements TokenStore {
  private readonly q: Record<string, Statement>;
  private grouping = false;
  private batch: Batch | null = null;
  private readonly pacer = new CommitPacer();
  /** With group commit on a store opened with synchronous = FULL: syncs the WAL after COMMITs. */
  private walSync: WalSync | null = null;
  /** The WAL file WalSync syncs (sqlite.org/walformat.html). */
  private readonly walPath: string;
  /** Settles when the last committed batch is on disk (durable()). */
  private lastDurable: Promise<void> = Promise.resolve();
  private durabilityLost: (err: Error) => void = () => {};
  /** With group commit on: what the code-only path reads instead of the store (token-mirror.ts). */
  private mirror: TokenMirror | null = null;
  /** PRAGMA data_version when the mirror was last known to match the store. */
  private dataVersion = 0;
  /** Settles when the mirror's loader has stopped (done, or given up: see loadAfter). */
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly sealer: SecretSealer,
    private readonly now: () => number,
    /** Called when a stored secret fails to unseal (tamper, wrong key): the token fails closed. */
    private readonly onSealError: (serial: string, err: Error) => void,
  ) {
    // Resolved now: a later change of working directory must not move it.
    this.walPath = `${absolute(db.name)}-wal`;
    this.q = {
      // Positional: binding 17 values by name cost a fifth of an import's time under the lock.
      insert: db.prepare(
        `INSERT INTO tokens (id, serial, type, algorithm, digits, period, t0, counter, drift, user, issuer, manufacturer, model, valid_from, valid_until, created_at, secret)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      setSecret: db.prepare('UPDATE tokens SET secret = ? WHERE id = ?'),
      maxId: db.prepare('SELECT coalesce(max(id), 0) FROM tokens').pluck(),
      deleteSerial: db.prepare('DELETE FROM tokens WHERE serial = ?'),
      kept: db.prepare('SELECT user, enabled, last_step, counter, failures, locked_at FROM tokens WHERE serial = ?').raw(),
      keep: db.prepare('UPDATE tokens SET user = ?, enabled = ?, last_step = ?, counter = max(counter, ?), failures = ?, locked_at = ? WHERE id = ?'),
      exists: db.prepare('SELECT 1 FROM tokens WHERE serial = ?').pluck(),
      // Bytes 2-5 of a sealed secret are the id of the key that sealed it (store/seal.ts).
      otherKeys: db.prepare('SELECT count(*) FROM tokens WHERE substr(secret, 2, 4) <> ?').pluck(),
      anyOtherKey: db.prepare('SELECT 1 FROM tokens WHERE substr(secret, 2, 4) <> ? LIMIT 1').pluck(),
      count: db.prepare('SELECT count(*) FROM tokens').pluck(),
      allSecrets: db.prepare('SELECT id, secret FROM tokens ORDER BY id').raw(),
      userExists: db.prepare('SELECT 1 FROM users WHERE name = ?').pluck(),
      addUser: db.prepare('INSERT OR IGNORE INTO users (name, password_hash, created_at) VALUES (?, NULL, ?)'),
      get: db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE serial = ?`).raw(),
      withSecret: db.prepare(`SELECT ${STATE_COLUMNS}, secret FROM tokens WHERE serial = ?`).raw(),
      list: db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY serial`).raw(),
      listUser: db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE user = ? ORDER BY serial`).raw(),
      // Hot path (every code check): only the columns a check needs, and the secret.
      forUser: db.prepare(`SELECT ${STATE_COLUMNS}, secret FROM tokens WHERE user = ? ORDER BY id`).raw(),
      // The same rows with the owner's enabled flag after the secret (a constant subquery, run once).
      forEnabledUser: db
        .prepare(`SELECT ${STATE_COLUMNS}, secret, (${USER_ENABLED_SQL}) FROM tokens WHERE user = ? ORDER BY id`)
        .raw(),
      userEnabled: db.prepare(USER_ENABLED_SQL).pluck(),
      // The mirror's loader: whole users at a time, in the order of the tokens_user index.
      loadAfter: db
        .prepare(`SELECT ${STATE_COLUMNS}, secret, user, (SELECT enabled FROM users WHERE name = tokens.user) FROM tokens WHERE user > ? ORDER BY user, id LIMIT ?`)
        .raw(),
      assigned: db.prepare('SELECT count(*) FROM tokens WHERE user IS NOT NULL').pluck(),
      // Changes when another connection commits, never for this one's own (sqlite.org/pragma.html#pragma_data_version).
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      assign: db.prepare('UPDATE tokens SET user = ? WHERE serial = ?'),
      unassignAll: db.prepare('UPDATE tokens SET user = NULL WHERE user = ?'),
      setEnabled: db.prepare('UPDATE tokens SET enabled = ? WHERE serial = ?'),
      unlock: db.prepare('UPDATE tokens SET failures = 0, locked_at = NULL WHERE serial = ? RETURNING id').pluck(),
      unlockAll: db.prepare('UPDATE tokens SET failures = 0, locked_at = NULL WHERE user = ?'),
      // RFC 6238 §5.2 / RFC 4226 §7.2: one atomic compare-and-set; the WHERE clause is the replay guard.
      // A locked token is never committed, whoever locked it since it was read (RFC 4226 §7.3).
      commitTotp: db.prepare(
        'UPDATE tokens SET last_step = ?, drift = ?, failures = 0, last_used_at = ? WHERE id = ? AND (last_step IS NULL OR last_step < ?) AND locked_at IS NULL',
      ),
      commitHotp: db.prepare(
        'UPDATE tokens SET counter = ?, failures = 0, last_used_at = ? WHERE id = ? AND counter < ? AND locked_at IS NULL',
      ),
      // RFC 4226 §7.3: failures count across all clients; the lock time is set once, when the limit is reached.
      failure: db
        .prepare(
          'UPDATE tokens SET failures = failures + 1, locked_at = CASE WHEN locked_at IS NULL AND failures + 1 >= ? THEN ? ELSE locked_at END WHERE id = ? RETURNING failures, locked_at',
        )
        .raw(),
      // RELIABILITY O10 (evenOutReject): the shape of `failure` on a token chosen at random,
      // changing nothing (SQLite writes no page for it). The write that does change a page is
      // prepared on first use: a store opened read-only is not migrated, and may lack its table.
      evenOutSeek: db
        .prepare(
          'UPDATE tokens SET failures = failures WHERE id = (SELECT id FROM tokens WHERE id > abs(random()) % (SELECT max(id) FROM tokens) ORDER BY id LIMIT 1) RETURNING failures, locked_at',
        )
        .raw(),
      resync: db.prepare('UPDATE tokens SET drift = ?, last_step = ?, counter = ?, failures = 0, locked_at = NULL WHERE id = ?'),
    };
  }

  /**
   * One transaction: all or nothing. Its rows take the ids after the store's last, and each
   * secret is sealed to its id (seal.ts) before the write lock is taken: sealing (~5 µs a token)
   * was two fifths of the time a running server's requests waited for an import. Should a token have
   * been added since (an enroll, another import), the ids move on and the secrets are sealed
   * again under the lock.
   */
  importMany(records: readonly TokenRecord[], options: ImportOptions, onProgress?: (done: number) => void): ImportResult {
    this.forgetMirror();
    let base = this.q.maxId!.get() as number;
    let sealed = this.sealAll(records, base, onProgress);
    const run = this.db.transaction((): ImportResult => {
      // A key rotation committed since this command read its key: what it sealed would open
      // with no key the store is left with (store/rotate-key.ts).
      if (this.q.anyOtherKey!.get(keyIdBytes(this.sealer.keyId)) !== undefined) {
        throw new StoreError('key-file', 'token secrets in the store are sealed with another master key than this command read (a key rotate since it started, or a store restored without its key): nothing was stored; run it again');
      }
      // The same for a store with no secret yet, where a rotation renames its key file under
      // the lock (rotate-key.ts): what this import sealed would open with no key then on disk.
      if (this.sealer.keyFileCurrent?.() === false) {
        throw new StoreError('key-file', 'the master key file no longer holds the key this command read (a key rotate since it started?): nothing was stored; run it again');
      }
      const existing = new Set(this.existingSerials(records.map((r) => r.serial)));
      if (existing.size > 0 && !options.replace) {
        throw new StoreError('serial-exists', `${existing.size} serial(s) already in the store (use --replace)`, [...existing]);
      }
      let usersCreated = 0;
      const missing = new Set<string>();
      for (const r of records) {
        if (r.user === undefined || this.q.userExists!.get(r.user)) continue;
        if (options.createUsers) usersCreated += this.q.addUser!.run(r.user, this.now()).changes;
        else missing.add(r.user);
      }
      if (missing.size > 0) {
        throw new StoreError('unknown-user', `${missing.size} user(s) not found (use --create-users)`, [...missing]);
      }
      const last = this.q.maxId!.get() as number;
      if (last !== base) sealed = this.sealAll(records, (base = last));
      const createdAt = this.now();
      records.forEach((r, i) => {
        const id = base + 1 + i;
        const kept = existing.has(r.serial) ? (this.q.kept!.get(r.serial) as KeptState) : undefined;
        if (kept !== undefined) this.q.deleteSerial!.run(r.serial);
        this.q.insert!.run(
          id,
          r.serial,
          r.type,
          r.algorithm,
          r.digits,
          r.period,
          r.t0,
          r.counter,
          r.drift,
          r.user ?? null,
          r.issuer ?? null,
          r.manufacturer ?? null,
          r.model ?? null,
          r.validFrom ?? null,
          r.validUntil ?? null,
          createdAt,
          sealed[i],
        );
        if (kept !== undefined) {
          // --replace renews the secret and parameters, not what the store learnt: the token
          // keeps its owner (unless the file names one), its enabled flag, its lock and its
          // replay guard (RFC 6238 §5.2, RFC 4226 §7.2): a code accepted before the import stays
          // used after it, even when the file brings the same secret again.
          const [user, enabled, lastStep, counter, failures, lockedAt] = kept;
          this.q.keep!.run(r.user ?? user, enabled, lastStep, counter, failures, lockedAt, id);
        }
      });
      return { inserted: records.length - existing.size, replaced: existing.size, usersCreated };
    });
    // IMMEDIATE: the write lock first, waiting busy_timeout for a server's commit to end. A
    // deferred transaction reads, then cannot take the lock once another connection has
    // committed since its read began, and fails at once with "database is locked".
    const result = run.immediate();
    onProgress?.(records.length);
    return result;
  }

  /** Each record's secret sealed to the id it is to take: base + 1, base + 2, ... */
  private sealAll(records: readonly TokenRecord[], base: number, onProgress?: (done: number) => void): Buffer[] {
    return records.map((r, i) => {
      if (onProgress && i > 0 && i % 1000 === 0) onProgress(i);
      return this.sealer.seal(base + 1 + i, r.secret);
    });
  }

  /** How many token secrets were sealed by a master key other than `keyId` (this store's by default). */
  sealedByOtherKeys(keyId = this.sealer.keyId): number {
    return this.q.otherKeys!.get(keyIdBytes(keyId)) as number;
  }

  /** How many tokens, each with a sealed secret, the store holds. */
  count(): number {
    return this.q.count!.get() as number;
  }

  /** Whether the store holds secrets and `keyId` sealed every one (a rotation's new key, store/open.ts). */
  sealedOnlyWith(keyId: number): boolean {
    return this.count() > 0 && this.sealedByOtherKeys(keyId) === 0;
  }

  /**
   * Key rotation's slow part, done before it takes the write lock (store/rotate-key.ts): every
   * secret this store's key opens, sealed again with `next`. By id, with the blob it came from.
   * A secret that does not open is left out (reseal meets it under the lock, and fails whole).
   */
  prepareReseal(next: SecretSealer): Resealed {
    const prepared: Resealed = new Map();
    for (const [id, blob] of this.q.allSecrets!.all() as Array<[number, Buffer]>) {
      let secret: Buffer;
      try {
        secret = this.sealer.open(id, blob);
      } catch {
        continue;
      }
      prepared.set(id, { from: blob, to: next.seal(id, secret) });
      secret.fill(0);
    }
    return prepared;
  }

  /**
   * Key rotation (store/rotate-key.ts): every secret opened with this store's key and sealed
   * again with `next`, in one transaction. Returns how many. A secret that does not open fails
   * the whole, and nothing changes. A row whose blob is still the one `prepared` was made from
   * takes its prepared blob; any other (changed or added since) is sealed here.
   */
  reseal(next: SecretSealer, prepared: Resealed = new Map()): number {
    const run = this.db.transaction(() => {
      const rows = this.q.allSecrets!.all() as Array<[number, Buffer]>;
      for (const [id, blob] of rows) {
        const ready = prepared.get(id);
        if (ready !== undefined && ready.from.equals(blob)) {
          this.q.setSecret!.run(ready.to, id);
          continue;
        }
        const secret = this.sealer.open(id, blob);
        this.q.setSecret!.run(next.seal(id, secret), id);
        secret.fill(0);
      }
      return rows.length;
    });
    return run.immediate();
  }

  existingSerials(serials: readonly string[]): string[] {
    return serials.filter((s) => this.q.exists!.get(s) !== undefined);
  }

  get(serial: string): StoredToken | undefined {
    const a = this.q.get!.get(serial) as unknown[] | undefined;
    return a && toToken(a);
  }

  list(filter?: { user?: string }): StoredToken[] {
    const rows = (filter?.user !== undefined ? this.q.listUser!.all(filter.user) : this.q.list!.all()) as unknown[][];
    return rows.map(toToken);
  }

  forUser(user: string): TokenWithSecret[] {
    return this.unsealAllOrFail(user, this.q.forUser!.all(user) as unknown[][]);
  }

  /**
   * With group commit on, the read opens the turn's batch: a write (the code's commit, or a
   * failure) follows on nearly every answer, and a read inside the write transaction skips a
   * read transaction of its own (measured: −10 µs per request when each is alone in its turn).
   * Then it answers from the mirror, which the batch's start has just checked; a user it does
   * not hold is read from the store and held from then on.
   */
  forEnabledUser(user: string): TokenWithSecret[] | null {
    this.join();
    const held = this.mirror?.get(user);
    if (held !== undefined) return held;
    const rows = this.q.forEnabledUser!.all(user, user) as unknown[][];
    // No token: the flag still has to be asked for.
    const enabled = rows.length > 0 ? (rows[0] as unknown[])[AFTER_STATE + 1] : this.q.userEnabled!.get(user);
    if (isDisabledFlag(enabled)) return null;
    const owned = this.unsealAllOrFail(user, rows);
    this.mirror?.put(user, owned);
    return owned;
  }

  withSecret(serial: string): TokenWithSecret | undefined {
    const a = this.q.withSecret!.get(serial) as unknown[] | undefined;
    return a && this.unseal(a);
  }

  /**
   * The user's rows opened, for a decision: if one does not open (a changed byte, another master
   * key), the whole lookup fails (StoreError 'seal-failed': the request is rejected as an
   * internal error) rather than answer as if the user had fewer tokens — with none left, that
   * would be a user without a token, whom users_without_token = "password-only" lets in on the
   * password alone. Each failure is reported through onSealError.
   */
  private unsealAllOrFail(user: string, rows: readonly unknown[][]): TokenWithSecret[] {
    const owned = this.unsealAll(rows);
    if (owned.length < rows.length) throw new StoreError('seal-failed', `a token secret of user ${user} does not open: the user is refused`);
    return owned;
  }

  /** Raw rows opened; a row that does not open is left out (and reported unless `quiet`: see unseal). */
  private unsealAll(rows: readonly unknown[][], quiet = false): TokenWithSecret[] {
    const out: TokenWithSecret[] = [];
    for (const a of rows) {
      const opened = this.unseal(a, quiet);
      if (opened) out.push(opened);
    }
    return out;
  }

  /**
   * A raw `STATE_COLUMNS, secret` row with its secret opened; undefined (fails closed) when it
   * does not open, reported through onSealError unless `quiet` (the mirror's loader: the request
   * that asks for the token reports it).
   */
  private unseal(a: unknown[], quiet = false): TokenWithSecret | undefined {
    const token = stateOf(a);
    try {
      return { token, secret: this.sealer.open(token.id, a[AFTER_STATE] as Buffer) };
    } catch (err) {
      if (!quiet) this.onSealError(token.serial, err as Error);
      return undefined;
    }
  }

  // Administrative writes empty the mirror: it fills again as users are asked for.
  assign(serial: string, user: string | null): boolean {
    this.forgetMirror();
    return this.q.assign!.run(user, serial).changes === 1;
  }
  unassignAll(user: string): number {
    this.forgetMirror();
    return this.q.unassignAll!.run(user).changes;
  }
  setEnabled(serial: string, enabled: boolean): boolean {
    this.forgetMirror();
    return this.q.setEnabled!.run(enabled ? 1 : 0, serial).changes === 1;
  }
  delete(serial: string): boolean {
    this.forgetMirror();
    return this.q.deleteSerial!.run(serial).changes === 1;
  }
  /** Also what an expired lock's first request does (otp.unlock_after): the mirror is kept, and told. */
  unlock(serial: string): boolean {
    const ids = this.q.unlock!.all(serial) as number[];
    for (const id of ids) this.mirror?.failuresSet(id, 0, null);
    return ids.length === 1;
  }
  unlockAll(user: string): number {
    this.forgetMirror();
    return this.q.unlockAll!.run(user).changes;
  }
  commitTotp(id: number, step: number, drift: number, now: number): boolean {
    this.joinToWrite();
    const accepted = this.q.commitTotp!.run(step, drift, now, id, step).changes === 1;
    if (accepted) this.mirror?.acceptedStep(id, step, drift);
    return accepted;
  }
  commitHotp(id: number, nextCounter: number, now: number): boolean {
    this.joinToWrite();
    const accepted = this.q.commitHotp!.run(nextCounter, now, id, nextCounter).changes === 1;
    if (accepted) this.mirror?.acceptedCounter(id, nextCounter);
    return accepted;
  }
  recordFailure(id: number, now: number, maxFailures: number): number {
    this.joinToWrite();
    const row = this.q.failure!.get(maxFailures, now, id) as [number, number | null] | undefined;
    if (row === undefined) return 0;
    this.mirror?.failuresSet(id, row[0], row[1]);
    return row[0];
  }

  /**
   * RELIABILITY O10, with group commit: a Reject whose batch holds no write (an unknown or a
   * disabled user, a user without a usable token) costs what a wrong code's failure count
   * costs: the update of a token row, rarely in the page cache (~20 µs here; made on one chosen
   * at random, changing nothing), and a COMMIT that writes a page (~12 µs more than one that
   * does not; reject_writes counts). Without it the code-only Rejects were ~50 µs apart, one
   * at a time (bench reject-timing). A batch that holds a write already: nothing to do.
   */
  evenOutReject(): void {
    if (!this.grouping || (this.batch !== null && this.batch.writes > 0)) return;
    this.joinToWrite();
    this.q.evenOutSeek!.get();
    (this.q.evenOutWrite ??= this.db.prepare('UPDATE reject_writes SET count = count + 1 WHERE id = 1')).run();
  }

  /**
   * Empties the mirror (a write it cannot follow: see token-mirror.ts). SqliteUsers calls it
   * too, for the enabled flag.
   */
  forgetMirror(): void {
    this.mirror?.clear();
  }

  /** The mirror's size and how often it was emptied; null without group commit (tests, the bench). */
  mirrorStats(): TokenMirrorStats | null {
    const m = this.mirror;
    return m && { users: m.users, tokens: m.tokens, clears: m.clears };
  }

  /**
   * Group commit (the server turns it on): the writes of one event-loop turn share one
   * transaction — BEGIN IMMEDIATE before the first, COMMIT from setImmediate — so a burst of
   * requests pays for one WAL commit instead of one each. A small batch in a fast stream of
   * writes waits 0.15 ms for the next turn's (commit-pacing.ts). Each compare-and-set's answer is
   * final when it runs, as this connection holds the write lock until COMMIT. A committed batch
   * (settled()) survives kill -9; with synchronous = FULL, it survives an OS crash or power loss
   * once durable() resolves (with NORMAL, durable() is settled(), and kill -9 is all it survives).
   * So no reply may leave before settled(), and no Accept before durable(). A failed COMMIT rolls
   * the whole batch back and both reject.
   *
   * It also turns the mirror on (token-mirror.ts) and starts its loader: the mirror is only as
   * exact as the data_version check at each batch's start makes it.
   */
  groupCommits(): void {
    if (this.grouping) return;
    this.grouping = true;
    // store.synchronous = "full" (open.ts sets SQLite's FULL): the batches commit as NORMAL and
    // WalSync makes them durable off the event loop; durable() waits for it (wal-sync.ts).
    const full = (this.db.pragma('synchronous', { simple: true }) as number) >= 2;
    if (full && !this.db.memory && this.db.pragma('journal_mode', { simple: true }) === 'wal') {
      this.db.pragma('synchronous = NORMAL');
      this.walSync = new WalSync(this.walPath, (err) => this.durabilityLost(err));
    }
    const mirror = new TokenMirror();
    this.mirror = mirror;
    this.dataVersion = this.q.dataVersion!.get() as number;
    mirror.expect(this.q.assigned!.get() as number);
    this.loading = new Promise((done) => this.loadAfter('', mirror.clears, done));
  }

  /**
   * Resolves when the mirror's loader has stopped: every enabled user with tokens is held, or it
   * gave up (the mirror was emptied, the store was busy or closed) and the mirror fills as users
   * ask. The server starts listening only then, so its first requests find the mirror full.
   */
  mirrorLoaded(): Promise<void> {
    return this.loading;
  }

  /**
   * The mirror's loader: LOAD_ROWS rows of whole users per event-loop turn, inside the turn's
   * batch (so what it reads is what data_version vouches for), in the tokens_user index's order
   * after `after`. It stops when the mirror is emptied; the mirror then fills as users ask.
   */
  private loadAfter(after: string, epoch: number, done: () => void): void {
    setImmediate(() => {
      let next: 'more' | 'stopped' = 'stopped';
      try {
        next = this.loadChunk(after, epoch, done);
      } catch {
        // Another connection is writing (SQLITE_BUSY), or the store failed: the mirror fills as users ask.
      }
      if (next === 'stopped') done();
    });
  }

  /** One turn of the loader; 'more' when it has scheduled the next. */
  private loadChunk(after: string, epoch: number, done: () => void): 'more' | 'stopped' {
    if (!this.db.open) return 'stopped';
    this.joinWithoutWaiting();
    const mirror = this.mirror as TokenMirror;
    if (mirror.clears !== epoch) return 'stopped';
    const rows = this.q.loadAfter!.all(after, LOAD_ROWS) as unknown[][];
    const last = this.holdLoaded(mirror, rows, rows.length === LOAD_ROWS);
    if (rows.length < LOAD_ROWS) return 'stopped';
    this.loadAfter(last, epoch, done);
    return 'more';
  }

  /**
   * join(), but failing at once (SQLITE_BUSY) instead of waiting busy_timeout for another
   * connection's write lock: the loader is never worth stalling requests for.
   */
  private joinWithoutWaiting(): void {
    const wait = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma('busy_timeout = 0');
    try {
      this.join();
    } finally {
      this.db.pragma(`busy_timeout = ${wait}`);
    }
  }

  /**
   * Puts the enabled users of `rows` (sorted by user; `STATE_COLUMNS, secret, user, enabled`) in
   * the mirror and returns the last user dealt with. When the chunk is `full`, its last user may
   * have more tokens in the next one, so that user is left to the next chunk (or, if it fills the
   * chunk alone, to its first request).
   */
  private holdLoaded(mirror: TokenMirror, rows: readonly unknown[][], full: boolean): string {
    let last = '';
    for (let i = 0; i < rows.length; ) {
      const user = (rows[i] as unknown[])[AFTER_STATE + 1] as string;
      let end = i + 1;
      while (end < rows.length && (rows[end] as unknown[])[AFTER_STATE + 1] === user) end++;
      const maybeCut = full && end === rows.length;
      if (maybeCut && i > 0) break;
      last = user;
      if (!maybeCut && !isDisabledFlag((rows[i] as unknown[])[AFTER_STATE + 2])) {
        // As forEnabledUser: a user with a token that does not open is not held.
        const owned = this.unsealAll(rows.slice(i, end), true);
        if (owned.length === end - i) mirror.put(user, owned);
      }
      i = end;
    }
    return last;
  }

  /** Resolves when every write made so far is committed; rejects if its batch was rolled back. */
  settled(): Promise<void> {
    return this.batch?.done ?? Promise.resolve();
  }

  /**
   * settled(), and then on disk: with synchronous = FULL, once the WAL is synced after the
   * commit (wal-sync.ts). Rejects if the batch was rolled back or the sync failed.
   */
  durable(): Promise<void> {
    // With no batch open, the last one's: an Accept that wrote nothing (an app password) vouches
    // for what it read. After a failed sync, every later one fails too (wal-sync.ts).
    return this.batch?.durable ?? this.lastDurable;
  }

  /**
   * `listener` is told when the WAL could not be synced (wal-sync.ts): from then on no Accept
   * can be made durable, and durable() rejects. The server stops on it.
   */
  onDurabilityLost(listener: (err: Error) => void): void {
    this.durabilityLost = listener;
  }

  /** Stops syncing the WAL (the store closes); the sync under way, if any, ends first. */
  close(): void {
    this.walSync?.close();
  }

  /** With group commit on, opens the turn's batch for a write. */
  private join(): void {
    if (!this.grouping || this.batch !== null) return;
    this.db.exec('BEGIN IMMEDIATE');
    // Another connection committed since (the CLI, another server on this store): the mirror may
    // be stale. Exact here: no other connection can commit while this one holds the write lock.
    const version = this.q.dataVersion!.get() as number;
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.forgetMirror();
    }
    const batch = { writes: 0 } as Batch;
    batch.done = new Promise<void>((resolve, reject) => Object.assign(batch, { resolve, reject }));
    batch.durable = new Promise<void>((adopt) => Object.assign(batch, { adopt }));
    // A rejection nobody awaits is not an unhandled one.
    batch.done.catch(() => undefined);
    batch.durable.catch(() => undefined);
    this.batch = batch;
    setImmediate(() => this.commitWhenDue(batch));
  }

  /** join() for a write: counted, for the pacing of commits. */
  private joinToWrite(): void {
    this.join();
    if (this.batch !== null) this.batch.writes++;
  }

  /**
   * COMMITs the batch, or, when it is small and the writes come fast (commit-pacing.ts), first
   * sleeps a moment, once, and commits in the next turn, which takes the datagrams that came.
   */
  private commitWhenDue(batch: Batch): void {
    const wait = this.pacer.waitFor(batch.writes);
    if (wait === 0) return this.flush(batch);
    Atomics.wait(NAP, 0, 0, wait);
    setImmediate(() => this.flush(batch));
  }

  private flush(batch: Batch): void {
    this.batch = null;
    this.pacer.committed(batch.writes, performance.now());
    try {
      this.db.exec('COMMIT');
      this.lastDurable = this.walSync === null ? Promise.resolve() : this.walSync.after();
      batch.resolve();
      batch.adopt(this.lastDurable);
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.forgetMirror(); // it holds the batch's writes, which are gone
      batch.reject(err as Error);
      batch.adopt(batch.done);
    }
  }
  resync(id: number, values: { drift: number; lastStep: number | null; counter: number }): void {
    this.forgetMirror();
    this.q.resync!.run(values.drift, values.lastStep, values.counter, id);
  }
}
