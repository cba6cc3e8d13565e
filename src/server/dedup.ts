/**
 * Duplicate detection (RFC 5080 §2.2.2, RELIABILITY R6). The key is the receiving socket, the
 * source address and port, and the Identifier; the entry remembers the Request Authenticator.
 * - same key and authenticator, reply not yet sent: "in-progress" (drop the duplicate);
 * - same key and authenticator, reply sent within the hold time: the cached reply, byte for byte;
 * - same key, new authenticator: a new request, the old entry is replaced.
 * Only packets whose Message-Authenticator verified get here, so a forged packet cannot
 * touch the cache (B3).
 *
 * Why off the JS heap: the cache holds every request of the hold time (22k/s × 30 s = 660k
 * entries). Kept as objects (key string, entry, two Buffers each), every entry survived a
 * scavenge and was promoted: 4 ms scavenges every ~90 ms, then big mark-compacts, which broke the
 * p99 (< 2 ms) and memory (< 150 MB RSS) targets. So an entry here is no JS object at all:
 * - slots sit in a ring of typed arrays, in order of arrival (roughly the order of expiry), so
 *   sweep() pops expired ones off the head: O(expired);
 * - a hash index (open addressing, linear probing, backward-shift deletion) maps a key to its slot;
 * - (socket, address) is interned to a small id, freed with the last entry that uses it;
 * - replies are appended to 64 KiB arena chunks (1 MiB ones held ~10 MB more RSS under load);
 *   a chunk goes once its latest reply expired, or when the arena is repacked, and goes back into
 *   use rather than to malloc while the arena may need it again.
 * Under steady load the cache allocates no memory at all (`allocations` stays flat): a compacted
 * ring goes into the arrays the ring before it used, and chunks are reused. Every ArrayBuffer let
 * go here had been promoted to the old generation, and V8 counts the external memory it held
 * against the old generation's limit: compacting into new arrays (~0.9 MB each second at 16,700
 * requests/s) and dropping chunks brought a mark-compact every ~10 s, whose marking took 10-20 ms
 * of the event loop's core and put ~500 requests over 2 ms each time.
 */

export type DedupHit = { kind: 'new' } | { kind: 'in-progress' } | { kind: 'replay'; reply: Buffer };

/** Where a request came from (handler.ts passes its Peer). */
export interface DedupPeer {
  /** Index of the receiving socket. */
  socket: number;
  address: string;
  port: number;
}

export interface DuplicateCacheOptions {
  /** Initial ring slots (rounded up to a power of two); the ring doubles when it is full. */
  capacity?: number;
  /** Bytes per reply arena chunk (a longer reply gets a chunk of its own size). */
  chunkBytes?: number;
}

const NEW: DedupHit = { kind: 'new' };
const IN_PROGRESS: DedupHit = { kind: 'in-progress' };

const AUTH = 16;
/**
 * Free chunks kept for reuse: this many, plus twice the chunks in use. A repack copies the live
 * replies (n chunks) into spare ones before it lets the old ones go, and the arena then grows to
 * about 2n again before the next: so 2n spares see a steady arena through, and a shrinking one
 * gives the rest back.
 */
const SPARE_CHUNKS = 4;
const DEAD = 0; // slot state: not in the index (replaced, abandoned or swept)
const PENDING = 1; // decision under way
const DONE = 2; // reply stored

/** The ring: one typed array per field, indexed by slot. */
class Slots {
  readonly addr: Int32Array; // interned (socket, address)
  readonly key: Int32Array; // port << 8 | identifier
  readonly expires: Float64Array;
  readonly auth: Uint8Array; // AUTH bytes per slot
  readonly state: Uint8Array;
  readonly chunk: Int32Array; // reply location (DONE only)
  readonly offset: Int32Array;
  readonly length: Int32Array;

  constructor(readonly capacity: number) {
    this.addr = new Int32Array(capacity);
    this.key = new Int32Array(capacity);
    this.expires = new Float64Array(capacity);
    this.auth = new Uint8Array(capacity * AUTH);
    this.state = new Uint8Array(capacity);
    this.chunk = new Int32Array(capacity);
    this.offset = new Int32Array(capacity);
    this.length = new Int32Array(capacity);
  }

  copy(from: Slots, s: number, to: number): void {
    this.addr[to] = from.addr[s]!;
    this.key[to] = from.key[s]!;
    this.expires[to] = from.expires[s]!;
    this.auth.set(from.auth.subarray(s * AUTH, s * AUTH + AUTH), to * AUTH);
    this.state[to] = from.state[s]!;
    this.chunk[to] = from.chunk[s]!;
    this.offset[to] = from.offset[s]!;
    this.length[to] = from.length[s]!;
  }
}

interface Chunk {
  bytes: Buffer;
  used: number;
  /** The latest expiry of the replies in it: after that it holds nothing live. */
  expires: number;
}

function hash(addr: number, key: number): number {
  let h = Math.imul(addr, 0x9e3779b1) ^ key;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class DuplicateCache {
  private readonly chunkBytes: number;
  private slots: Slots;
  private head = 0;
  /** Ring slots from head to tail, dead ones included. */
  private used = 0;
  private live = 0;
  /** Hash index: slot + 1, 0 = empty; twice the ring's size, so at most half full. */
  private index: Int32Array;

  private readonly ids = new Map<number, Map<string, number>>(); // socket → address → id
  private readonly idRefs: number[] = []; // live entries per id
  private readonly idSocket: number[] = [];
  private readonly idAddress: string[] = [];
  private readonly freeIds: number[] = [];

  private chunks = new Map<number, Chunk>();
  /** Reply bytes written to the chunks held, and those of them that live entries still need. */
  private arenaBytes = 0;
  private liveBytes = 0;
  private current: Chunk | null = null;
  private readonly spare: Buffer[] = [];
  private nextChunk = 0;
  /** The ring before the last compaction: the next one of the same size goes into its arrays. */
  private spareSlots: Slots | null = null;
  private allocated = 0;

  /**
   * `now` is in milliseconds. The default is monotonic: a wall-clock step (NTP) neither revives
   * expired entries nor keeps every entry for the length of the step.
   */
  constructor(
    private readonly holdMs: number,
    private readonly now: () => number = () => performance.now(),
    options: DuplicateCacheOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 1 << 16;
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, options.capacity ?? 4096)));
    this.slots = this.newSlots(capacity);
    this.index = new Int32Array(capacity * 2);
  }

  /** Entries held (expired ones included until swept). */
  get size(): number {
    return this.live;
  }

  /** Interned (socket, address) pairs in use. */
  get addresses(): number {
    return this.idRefs.length - this.freeIds.length;
  }

  /** Reply arena chunks held. */
  get arenaChunks(): number {
    return this.chunks.size;
  }

  /** Ring slots (grows when full). */
  get capacity(): number {
    return this.slots.capacity;
  }

  /** Rings and arena chunks allocated so far: it grows with the load's peak, not with time. */
  get allocations(): number {
    return this.allocated;
  }

  /** Looks the request up; when it is new, records it as in progress. */
  begin(peer: DedupPeer, identifier: number, authenticator: Buffer): DedupHit {
    if (authenticator.length !== AUTH) throw new RangeError('a Request Authenticator is 16 bytes');
    const now = this.now();
    if (this.used === this.slots.capacity) this.makeRoom(now);
    const { slots, index } = this;
    const addr = this.intern(peer.socket, peer.address);
    const key = (peer.port << 8) | identifier;
    const pos = this.find(addr, key);
    const s = (this.head + this.used) & (slots.capacity - 1);
    if (pos >= 0) {
      const old = index[pos]! - 1;
      if (slots.expires[old]! > now && this.sameAuth(old, authenticator)) {
        if (slots.state[old] === PENDING) return IN_PROGRESS;
        const reply = this.replyOf(old);
        if (reply !== null) return { kind: 'replay', reply };
      }
      // R6: a new authenticator (or an expired entry) is a new request; the old entry goes.
      this.kill(old);
      index[pos] = s + 1;
    } else {
      index[-1 - pos] = s + 1;
      this.idRefs[addr]!++;
      this.live++;
    }
    slots.addr[s] = addr;
    slots.key[s] = key;
    slots.expires[s] = now + this.holdMs; // an entry that never finishes still expires
    slots.auth.set(authenticator, s * AUTH);
    slots.state[s] = PENDING;
    this.used++;
    return NEW;
  }

  /** The reply went out: keep (a copy of) it for retransmissions. */
  finish(peer: DedupPeer, identifier: number, authenticator: Buffer, reply: Buffer): void {
    const pos = this.lookup(peer, identifier);
    if (pos < 0) return;
    const s = this.index[pos]! - 1;
    if (!this.sameAuth(s, authenticator)) return;
    this.store(s, reply, this.now() + this.holdMs);
    this.liveBytes += reply.length;
    if (this.arenaBytes > 2 * this.chunkBytes && this.arenaBytes > 2 * this.liveBytes) this.repack();
  }

  /** Appends a reply to the arena for slot s. */
  private store(s: number, reply: Buffer, expires: number): void {
    let c = this.current;
    if (c === null || c.used + reply.length > c.bytes.length) {
      const bytes =
        reply.length > this.chunkBytes
          ? this.newChunk(reply.length) // a chunk of its own, not kept for reuse
          : (this.spare.pop() ?? this.newChunk(this.chunkBytes));
      c = { bytes, used: 0, expires };
      this.chunks.set(this.nextChunk++, c);
      this.current = c;
    }
    reply.copy(c.bytes, c.used);
    this.arenaBytes += reply.length;
    const slots = this.slots;
    slots.chunk[s] = this.nextChunk - 1;
    slots.offset[s] = c.used;
    slots.length[s] = reply.length;
    slots.expires[s] = expires;
    slots.state[s] = DONE;
    c.used += reply.length;
    c.expires = Math.max(c.expires, expires);
  }

  /**
   * Copies the live replies into fresh chunks and lets the old ones go; finish() calls it when
   * under half the arena is live. A replaced entry's reply would otherwise stay until its chunk
   * expires: a NAS reuses its 256 identifiers, so most entries are replaced long before they
   * expire, and the arena would hold rate × hold time of replies (26 MB at 22k/s × 30 s) for a
   * few thousand live ones. Each repack copies at most half the bytes written since the last.
   */
  private repack(): void {
    const old = this.chunks;
    this.chunks = new Map();
    this.current = null;
    this.arenaBytes = 0;
    const slots = this.slots;
    const mask = slots.capacity - 1;
    for (let i = 0; i < this.used; i++) {
      const s = (this.head + i) & mask;
      if (slots.state[s] !== DONE) continue;
      const c = old.get(slots.chunk[s]!);
      if (c === undefined) continue; // gone with a clock that went back: replyOf() says so
      const at = slots.offset[s]!;
      this.store(s, c.bytes.subarray(at, at + slots.length[s]!), slots.expires[s]!);
    }
    // Only now, when nothing is read from them any more, may old chunks be reused.
    for (const c of old.values()) this.release(c);
  }

  /** A chunk no reply needs any more: kept for reuse (SPARE_CHUNKS), or left to the GC. */
  private release(c: Chunk): void {
    if (c.bytes.length === this.chunkBytes && this.spare.length < SPARE_CHUNKS + 2 * this.chunks.size) this.spare.push(c.bytes);
  }

  private newChunk(bytes: number): Buffer {
    this.allocated++;
    return Buffer.allocUnsafeSlow(bytes);
  }

  private newSlots(capacity: number): Slots {
    this.allocated++;
    return new Slots(capacity);
  }

  /** Forget a request that got no reply (dropped for overload), so a retransmission is decided. */
  abandon(peer: DedupPeer, identifier: number, authenticator: Buffer): void {
    const pos = this.lookup(peer, identifier);
    if (pos < 0) return;
    const s = this.index[pos]! - 1;
    if (this.slots.state[s] === PENDING && this.sameAuth(s, authenticator)) this.remove(pos, s);
  }

  /**
   * Drops expired entries, oldest first, stopping at the first live one (slots are in order of
   * arrival, so nearly all expired ones are at the head; begin() never trusts an expired one),
   * and the arena chunks whose replies have all expired. Returns the number of entries dropped.
   */
  sweep(): number {
    const now = this.now();
    const removed = this.reclaim(now);
    for (const [id, c] of this.chunks) {
      if (c.expires > now) continue;
      this.chunks.delete(id);
      this.arenaBytes -= c.used;
      if (c === this.current) this.current = null;
      this.release(c);
    }
    return removed;
  }

  private reclaim(now: number): number {
    const slots = this.slots;
    const mask = slots.capacity - 1;
    let removed = 0;
    for (; this.used > 0; this.head = (this.head + 1) & mask, this.used--) {
      const s = this.head;
      if (slots.state[s] === DEAD) continue;
      if (slots.expires[s]! > now) break;
      this.remove(this.find(slots.addr[s]!, slots.key[s]!), s);
      removed++;
    }
    return removed;
  }

  /**
   * The ring is full: drop expired entries, else compact it into the spare ring (a copy, as the
   * ring wraps), doubling it when over half is live. What lies past the copied slots is stale and
   * never read: begin() writes a slot whole before the index points at it.
   */
  private makeRoom(now: number): void {
    this.reclaim(now);
    if (this.used < this.slots.capacity) return;
    const from = this.slots;
    const grow = this.live * 2 > from.capacity;
    const to = grow ? this.newSlots(from.capacity * 2) : (this.spareSlots ?? this.newSlots(from.capacity));
    let n = 0;
    for (let i = 0; i < this.used; i++) {
      const s = (this.head + i) & (from.capacity - 1);
      if (from.state[s] !== DEAD) to.copy(from, s, n++);
    }
    this.slots = to;
    this.spareSlots = grow ? null : from;
    this.head = 0;
    this.used = n;
    if (grow) this.index = new Int32Array(to.capacity * 2);
    else this.index.fill(0);
    for (let s = 0; s < n; s++) this.index[-1 - this.find(to.addr[s]!, to.key[s]!)] = s + 1;
  }

  /** Slot s leaves the index; its reply bytes (if any) stop being live. */
  private kill(s: number): void {
    if (this.slots.state[s] === DONE) this.liveBytes -= this.slots.length[s]!;
    this.slots.state[s] = DEAD;
  }

  /** The index position of the key, or -1 - (the empty position where it would go). */
  private find(addr: number, key: number): number {
    const { index, slots } = this;
    const mask = index.length - 1;
    let i = hash(addr, key) & mask;
    for (let v = index[i]!; v !== 0; v = index[i]!) {
      if (slots.key[v - 1] === key && slots.addr[v - 1] === addr) return i;
      i = (i + 1) & mask;
    }
    return -1 - i;
  }

  private lookup(peer: DedupPeer, identifier: number): number {
    const addr = this.ids.get(peer.socket)?.get(peer.address);
    return addr === undefined ? -1 : this.find(addr, (peer.port << 8) | identifier);
  }

  /** Takes slot s (at index position pos) out: backward-shift deletion, so no tombstones. */
  private remove(pos: number, s: number): void {
    const { index, slots } = this;
    const mask = index.length - 1;
    let hole = pos;
    for (let i = (pos + 1) & mask; index[i] !== 0; i = (i + 1) & mask) {
      const t = index[i]! - 1;
      const home = hash(slots.addr[t]!, slots.key[t]!) & mask;
      // The entry at i moves back into the hole unless its home lies after the hole (cyclically).
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        index[hole] = index[i]!;
        hole = i;
      }
    }
    index[hole] = 0;
    this.kill(s);
    this.live--;
    const id = slots.addr[s]!;
    if (--this.idRefs[id]! === 0) {
      this.ids.get(this.idSocket[id]!)!.delete(this.idAddress[id]!);
      this.freeIds.push(id);
    }
  }

  private intern(socket: number, address: string): number {
    let bySocket = this.ids.get(socket);
    if (bySocket === undefined) this.ids.set(socket, (bySocket = new Map()));
    let id = bySocket.get(address);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.idRefs.length;
      bySocket.set(address, id);
      this.idRefs[id] = 0;
      this.idSocket[id] = socket;
      this.idAddress[id] = address;
    }
    return id;
  }

  private sameAuth(s: number, authenticator: Buffer): boolean {
    if (authenticator.length !== AUTH) return false;
    const auth = this.slots.auth;
    for (let i = 0, o = s * AUTH; i < AUTH; i++) if (auth[o + i] !== authenticator[i]) return false;
    return true;
  }

  /**
   * A copy (replays are rare): the chunk is reused once its replies expire, maybe while the send
   * is queued. Null when the chunk is gone, which only a clock that went back can bring about.
   */
  private replyOf(s: number): Buffer | null {
    const slots = this.slots;
    const c = this.chunks.get(slots.chunk[s]!);
    if (c === undefined) return null;
    const out = Buffer.allocUnsafe(slots.length[s]!);
    c.bytes.copy(out, 0, slots.offset[s]!, slots.offset[s]! + out.length);
    return out;
  }
}
