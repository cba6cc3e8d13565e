/**
 * Duplicate detection (RFC 5080 §2.2.2, RELIABILITY R6). The key is the receiving socket, the
 * source address and port, and the Identifier; the entry remembers the Request Authenticator.
 * - same key and authenticator, reply not yet sent: "in-progress" (drop the duplicate);
 * - same key and authenticator, reply sent within the hold time: the cached reply, byte for byte;
 * - same key, new authenticator: a new request, the old entry is replaced.
 * Only packets whose Message-Authenticator verified get here, so a forged packet cannot
 * touch the cache (B3).
 */
interface Entry {
  authenticator: Buffer;
  reply: Buffer | null;
  expires: number;
}

export type DedupHit = { kind: 'new' } | { kind: 'in-progress' } | { kind: 'replay'; reply: Buffer };

export class DuplicateCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Looks the request up; when it is new, records it as in progress. */
  begin(key: string, authenticator: Buffer): DedupHit {
    const now = this.now();
    const e = this.entries.get(key);
    if (e !== undefined && e.expires > now && e.authenticator.equals(authenticator)) {
      return e.reply === null ? { kind: 'in-progress' } : { kind: 'replay', reply: e.reply };
    }
    // Map order is insertion order: delete first so the entry moves to the end (newest).
    this.entries.delete(key);
    this.entries.set(key, { authenticator: Buffer.from(authenticator), reply: null, expires: now + this.holdMs });
    return { kind: 'new' };
  }

  /** The reply went out: keep it for retransmissions. */
  finish(key: string, authenticator: Buffer, reply: Buffer): void {
    const e = this.entries.get(key);
    if (e !== undefined && e.authenticator.equals(authenticator)) {
      e.reply = reply;
      e.expires = this.now() + this.holdMs;
    }
  }

  /** Forget a request that got no reply (dropped for overload), so a retransmission is decided. */
  abandon(key: string, authenticator: Buffer): void {
    const e = this.entries.get(key);
    if (e !== undefined && e.authenticator.equals(authenticator) && e.reply === null) this.entries.delete(key);
  }

  /**
   * Drops expired entries, oldest first, stopping at the first live one (entries are in order of
   * arrival, so nearly all expired ones are at the front; begin() never trusts an expired one).
   */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [key, e] of this.entries) {
      if (e.expires > now) break;
      this.entries.delete(key);
      removed++;
    }
    return removed;
  }
}
