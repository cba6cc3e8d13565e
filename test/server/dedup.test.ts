/**
 * The duplicate-request cache (RFC 5080 §2.2.2, RELIABILITY R6): behaviour, expiry, the ring, the
 * hash index, interned addresses and the reply arena; and a randomized run against a plain Map.
 */
import t from 'tap';
import { DuplicateCache, type DedupHit, type DedupPeer } from '../../src/server/dedup.js';

const auth = (n: number): Buffer => Buffer.alloc(16, n);
const nas: DedupPeer = { socket: 0, address: '192.0.2.1', port: 1645 };

/** Deterministic bytes (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

t.test('RFC 5080: in progress, replay, a new authenticator, abandon', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(30_000, () => now);
  t.same(cache.begin(nas, 7, auth(1)), { kind: 'new' });
  t.same(cache.begin(nas, 7, auth(1)), { kind: 'in-progress' });
  cache.finish(nas, 7, auth(1), Buffer.from('reply'));
  t.same(cache.begin(nas, 7, auth(1)), { kind: 'replay', reply: Buffer.from('reply') });
  t.same(cache.begin(nas, 7, auth(2)), { kind: 'new' }, 'a new authenticator is a new request');
  t.equal(cache.size, 1, 'R6: the new authenticator purged the old entry');
  cache.finish(nas, 7, auth(1), Buffer.from('stale'));
  t.same(cache.begin(nas, 7, auth(2)), { kind: 'in-progress' }, 'a stale finish does not touch the new entry');
  cache.abandon(nas, 7, auth(1));
  t.equal(cache.size, 1, 'abandon of another authenticator changes nothing');
  cache.abandon(nas, 7, auth(2));
  t.equal(cache.size, 0);
  t.same(cache.begin(nas, 7, auth(2)), { kind: 'new' }, 'after abandon, the retransmission is decided');
  cache.finish(nas, 7, auth(2), Buffer.from('r'));
  now += 500;
  cache.abandon(nas, 7, auth(2));
  t.equal(cache.size, 1, 'an answered request is not abandoned');

  cache.finish(nas, 8, auth(1), Buffer.from('x'));
  cache.finish({ ...nas, socket: 9 }, 7, auth(2), Buffer.from('x'));
  cache.finish({ ...nas, address: '192.0.2.9' }, 7, auth(2), Buffer.from('x'));
  cache.abandon({ ...nas, address: '192.0.2.9' }, 7, auth(2));
  t.equal(cache.size, 1, 'finish and abandon of an unknown key (identifier, socket, address) change nothing');
  t.same(cache.begin(nas, 7, auth(2)), { kind: 'replay', reply: Buffer.from('r') });

  const other = [{ ...nas, socket: 1 }, { ...nas, port: 1646 }, { ...nas, address: '192.0.2.2' }];
  for (const p of other) t.same(cache.begin(p, 7, auth(2)), { kind: 'new' }, `a different key: ${JSON.stringify(p)}`);
  t.same(cache.begin(nas, 6, auth(2)), { kind: 'new' }, 'a different identifier');
  t.equal(cache.size, 5);
});

t.test('the authenticator is 16 bytes', async (t) => {
  const cache = new DuplicateCache(30_000, () => 0);
  t.throws(() => cache.begin(nas, 1, Buffer.alloc(20)), RangeError);
  t.equal(cache.size, 0);
  cache.begin(nas, 1, auth(3));
  cache.finish(nas, 1, Buffer.alloc(17, 3), Buffer.from('x'));
  cache.abandon(nas, 1, Buffer.alloc(15, 3));
  t.same(cache.begin(nas, 1, auth(3)), { kind: 'in-progress' }, 'a finish or abandon with another length does not match');
});

t.test('replies are copied in and out', async (t) => {
  const cache = new DuplicateCache(30_000, () => 0);
  const reply = Buffer.from('original');
  cache.begin(nas, 1, auth(1));
  cache.finish(nas, 1, auth(1), reply);
  reply.fill(0);
  const first = cache.begin(nas, 1, auth(1)) as Extract<DedupHit, { kind: 'replay' }>;
  t.equal(first.reply.toString(), 'original', 'the caller may reuse its buffer');
  first.reply.fill(0);
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'replay', reply: Buffer.from('original') }, 'or the one it got');
});

t.test('expiry: done and in-progress entries; sweep; size', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(1000, () => now);
  cache.begin(nas, 1, auth(1));
  cache.finish(nas, 1, auth(1), Buffer.from('r1'));
  now = 400;
  cache.begin(nas, 2, auth(1)); // never finishes
  now = 999;
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'replay', reply: Buffer.from('r1') }, 'held just under the hold time');
  now = 1000;
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'new' }, 'expired: decided anew');
  t.equal(cache.size, 2);
  now = 1399;
  t.same(cache.begin(nas, 2, auth(1)), { kind: 'in-progress' });
  now = 1400;
  t.equal(cache.sweep(), 1, 'the in-progress entry expired hold ms after begin; 1 (re-begun at 1000) lives');
  t.equal(cache.size, 1);
  t.same(cache.begin(nas, 2, auth(1)), { kind: 'new' });
  cache.finish(nas, 1, auth(1), Buffer.from('late'));
  now = 2000;
  t.equal(cache.sweep(), 0, 'finish restarted the hold time of 1');
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'replay', reply: Buffer.from('late') });
  now = 2400;
  t.equal(cache.sweep(), 2, 'both gone');
  t.equal(cache.size, 0);
  t.equal(cache.addresses, 0);
  t.equal(cache.sweep(), 0, 'an empty sweep');
});

t.test('sweep stops at the first live entry (arrival order), begin never trusts what it left', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(1000, () => now);
  cache.begin(nas, 1, auth(1));
  cache.begin(nas, 2, auth(1));
  cache.finish(nas, 2, auth(1), Buffer.from('two'));
  now = 600;
  cache.finish(nas, 1, auth(1), Buffer.from('one')); // 1 now lives to 1600, 2 to 1000
  now = 1200;
  t.equal(cache.sweep(), 0, '2 has expired but sits behind 1');
  t.equal(cache.size, 2);
  t.same(cache.begin(nas, 2, auth(1)), { kind: 'new' }, 'an expired entry is never replayed');
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'replay', reply: Buffer.from('one') });
});

t.test('interned addresses: per socket, IPv6, freed with their last entry, ids reused', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(1000, () => now);
  const v6 = { socket: 1, address: '2001:db8::1', port: 50000 };
  const v6b = { socket: 1, address: '2001:db8:0:0:0:0:0:1', port: 50000 }; // another spelling: another key
  const mapped = { socket: 0, address: '::ffff:192.0.2.1', port: 1645 };
  for (const p of [nas, { ...nas, socket: 1 }, v6, v6b, mapped]) t.same(cache.begin(p, 255, auth(1)), { kind: 'new' });
  t.equal(cache.addresses, 5);
  cache.finish(v6, 255, auth(1), Buffer.from('six'));
  t.same(cache.begin(v6, 255, auth(1)), { kind: 'replay', reply: Buffer.from('six') });
  t.same(cache.begin(v6b, 255, auth(1)), { kind: 'in-progress' });
  cache.abandon(mapped, 255, auth(1));
  t.equal(cache.addresses, 4, 'the last entry of a NAS abandoned: its id is freed');
  now = 500;
  cache.begin(nas, 0, auth(2));
  now = 1000;
  t.equal(cache.sweep(), 4);
  t.equal(cache.addresses, 1, 'NASes that stopped sending are forgotten; the one still sending is kept');
  const next = [1, 2, 3, 4, 5].map((i) => ({ socket: 2, address: `10.0.0.${i}`, port: i }));
  for (const p of next) cache.begin(p, 1, auth(4));
  t.equal(cache.addresses, 6, 'freed ids are reused, then new ones made');
  for (const p of next) t.same(cache.begin(p, 1, auth(4)), { kind: 'in-progress' });
  t.same(cache.begin(nas, 0, auth(2)), { kind: 'in-progress' });
  t.same(cache.begin(v6, 255, auth(1)), { kind: 'new' }, 'a forgotten NAS starts afresh');
});

t.test('the ring: grows past its initial capacity, reclaims expired slots, compacts dead ones', async (t) => {
  let now = 0;
  const grow = new DuplicateCache(60_000, () => now, { capacity: 5 });
  t.equal(grow.capacity, 16, 'rounded up to a power of two, at least 16');
  // Half: one NAS, many ports and identifiers; half: many NASes, one port and identifier.
  const key = (i: number): [DedupPeer, number] =>
    i < 2500
      ? [{ socket: i % 2, address: '198.51.100.7', port: 1024 + (i >> 8) }, i & 255]
      : [{ socket: 0, address: `fe80::${(i >> 8).toString(16)}:${(i & 255).toString(16)}`, port: 1812 }, 7];
  for (let i = 0; i < 5000; i++) {
    now = i;
    const [p, id] = key(i);
    grow.begin(p, id, auth(i % 7));
    if (i % 3 !== 0) grow.finish(p, id, auth(i % 7), Buffer.from(`reply ${i}`));
  }
  t.equal(grow.size, 5000);
  t.equal(grow.capacity, 8192);
  t.equal(grow.addresses, 2 + 2500);
  let ok = 0;
  for (let i = 0; i < 5000; i++) {
    const [p, id] = key(i);
    const hit = grow.begin(p, id, auth(i % 7));
    const want: DedupHit = i % 3 !== 0 ? { kind: 'replay', reply: Buffer.from(`reply ${i}`) } : { kind: 'in-progress' };
    if (JSON.stringify(hit) === JSON.stringify(want)) ok++;
  }
  t.equal(ok, 5000, 'every entry is still found after the growths');
  now = 70_000;
  t.equal(grow.sweep(), 5000);
  t.equal(grow.size, 0);
  t.equal(grow.addresses, 0);

  const full = new DuplicateCache(1000, () => now, { capacity: 16 });
  for (let i = 0; i < 16; i++) full.begin(nas, i, auth(1));
  now += 1000;
  t.same(full.begin(nas, 100, auth(1)), { kind: 'new' });
  t.equal(full.capacity, 16, 'a full ring first drops its expired entries, without a sweep');
  t.equal(full.size, 1);

  const churn = new DuplicateCache(1000, () => now, { capacity: 16 });
  churn.begin(nas, 200, auth(9));
  for (let i = 0; i < 100; i++) churn.begin(nas, 1, auth(i)); // each replaces the one before
  for (let i = 0; i < 100; i++) {
    churn.begin(nas, 2, auth(1));
    churn.abandon(nas, 2, auth(1));
  }
  t.equal(churn.capacity, 16, 'replaced and abandoned slots are compacted away, no growth');
  t.equal(churn.size, 2);
  t.same(churn.begin(nas, 200, auth(9)), { kind: 'in-progress' });
  t.same(churn.begin(nas, 1, auth(99)), { kind: 'in-progress' });
});

t.test('the reply arena: 4096-byte replies, chunks released when their replies expired', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(1000, () => now, { chunkBytes: 4096 });
  const rand = prng(7);
  const big = bytes(rand, 4096);
  cache.begin(nas, 1, auth(1));
  cache.finish(nas, 1, auth(1), big);
  const small = bytes(rand, 38);
  cache.begin(nas, 2, auth(1));
  cache.finish(nas, 2, auth(1), small);
  const huge = bytes(rand, 5000);
  cache.begin(nas, 3, auth(1));
  cache.finish(nas, 3, auth(1), huge);
  t.equal(cache.arenaChunks, 3, 'a full chunk, a new one, and one of its own for an oversize reply');
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'replay', reply: big }, 'a 4096-byte reply, byte for byte');
  t.same(cache.begin(nas, 2, auth(1)), { kind: 'replay', reply: small });
  t.same(cache.begin(nas, 3, auth(1)), { kind: 'replay', reply: huge });

  for (let i = 0; i < 2000; i++) {
    now = 10 + (i >> 2);
    cache.begin({ ...nas, port: 2000 + (i >> 8) }, i & 255, auth(2));
    cache.finish({ ...nas, port: 2000 + (i >> 8) }, i & 255, auth(2), bytes(rand, 38));
  }
  const chunks = cache.arenaChunks;
  t.ok(chunks > 18, `about 2000 × 38 bytes in 4 KiB chunks (${chunks})`);
  now = 1009;
  cache.sweep();
  t.equal(cache.arenaChunks, chunks - 3, 'the chunks of the first three replies went; the rest hold replies until 1010 and later');
  now = 1300;
  cache.sweep();
  t.ok(cache.arenaChunks < chunks / 2, `chunks of expired replies released (${cache.arenaChunks} left)`);
  now = 1600;
  cache.sweep();
  t.equal(cache.arenaChunks, 0, 'all of them, the current one included');
  t.equal(cache.size, 0);
  cache.begin(nas, 1, auth(5));
  cache.finish(nas, 1, auth(5), small);
  t.same(cache.begin(nas, 1, auth(5)), { kind: 'replay', reply: small }, 'a new chunk after that');
  t.equal(cache.arenaChunks, 1);

  // Released chunks are reused: what is written there now replays right, and a replay handed out
  // before (maybe still queued for sending) keeps its bytes.
  const handedOut = cache.begin(nas, 1, auth(5));
  now = 3000;
  cache.sweep();
  const replies = Array.from({ length: 400 }, (_, i) => bytes(rand, 1 + (i % 90)));
  replies.forEach((r, i) => {
    cache.begin(nas, i & 255, auth(6 + (i >> 8)));
    cache.finish(nas, i & 255, auth(6 + (i >> 8)), r);
  });
  let ok = 0;
  replies.forEach((r, i) => {
    if (i < 144) return; // replaced by 256-399 (same identifier, new authenticator)
    const hit = cache.begin(nas, i & 255, auth(6 + (i >> 8)));
    if (hit.kind === 'replay' && hit.reply.equals(r)) ok++;
  });
  t.equal(ok, 256);
  t.same(handedOut, { kind: 'replay', reply: small });
});

t.test('a replay stays byte-identical under lots of later traffic', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(30_000, () => now, { capacity: 16, chunkBytes: 8192 });
  const rand = prng(11);
  const kept = bytes(rand, 200);
  cache.begin(nas, 42, auth(42));
  cache.finish(nas, 42, auth(42), kept);
  for (let i = 0; i < 50_000; i++) {
    now = i / 2;
    const p = { socket: i % 3, address: `203.0.113.${i % 50}`, port: 1024 + (i % 7000) };
    cache.begin(p, i & 255, auth(i & 255));
    cache.finish(p, i & 255, auth(i & 255), bytes(rand, 20 + (i % 100)));
    if (i % 10_000 === 0) cache.sweep();
  }
  t.same(cache.begin(nas, 42, auth(42)), { kind: 'replay', reply: kept });
});

/** The cache as it was (a Map keyed by a string), as the reference for the randomized run. */
class MapModel {
  readonly entries = new Map<string, { authenticator: Buffer; reply: Buffer | null; expires: number }>();
  constructor(
    private readonly holdMs: number,
    private readonly now: () => number,
  ) {}
  begin(key: string, authenticator: Buffer): DedupHit {
    const now = this.now();
    const e = this.entries.get(key);
    if (e !== undefined && e.expires > now && e.authenticator.equals(authenticator)) {
      return e.reply === null ? { kind: 'in-progress' } : { kind: 'replay', reply: e.reply };
    }
    this.entries.delete(key);
    this.entries.set(key, { authenticator, reply: null, expires: now + this.holdMs });
    return { kind: 'new' };
  }
  finish(key: string, authenticator: Buffer, reply: Buffer): void {
    const e = this.entries.get(key);
    if (e !== undefined && e.authenticator.equals(authenticator)) {
      e.reply = reply;
      e.expires = this.now() + this.holdMs;
    }
  }
  abandon(key: string, authenticator: Buffer): void {
    const e = this.entries.get(key);
    if (e !== undefined && e.authenticator.equals(authenticator) && e.reply === null) this.entries.delete(key);
  }
  sweep(): void {
    for (const [key, e] of this.entries) {
      if (e.expires > this.now()) break;
      this.entries.delete(key);
    }
  }
}

t.test('randomized against the Map it replaced (hash collisions, deletions inside probe runs)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const rand = prng(seed);
    const pick = (n: number): number => Math.floor(rand() * n);
    let now = 0;
    const cache = new DuplicateCache(5000, () => now, { capacity: 16, chunkBytes: 4096 });
    const model = new MapModel(5000, () => now);
    const addresses = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:db8::2', '::1'];
    const auths = [auth(1), auth(2), auth(3)];
    const recent: Array<{ peer: DedupPeer; id: number; name: string }> = [];
    let mismatches = 0;
    let replays = 0;
    for (let op = 0; op < 30_000; op++) {
      const r = rand();
      if (r < 0.45 || recent.length === 0) {
        const fresh = recent.length === 0 || rand() < 0.6;
        const k = fresh
          ? { peer: { socket: pick(2), address: addresses[pick(5)] as string, port: 1000 + pick(4) }, id: pick(256), name: '' }
          : (recent[recent.length - 1 - pick(Math.min(60, recent.length))] as (typeof recent)[number]);
        k.name = `${k.peer.socket}|${k.peer.address}|${k.peer.port}|${k.id}`;
        const a = auths[pick(3)] as Buffer;
        const got = cache.begin(k.peer, k.id, a);
        const want = model.begin(k.name, a);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches++;
        if (got.kind === 'replay') replays++;
        recent.push(k);
      } else {
        const k = recent[recent.length - 1 - pick(Math.min(60, recent.length))] as (typeof recent)[number];
        const a = auths[pick(3)] as Buffer;
        if (r < 0.75) {
          // Finishing an entry after it expired is left out: the ring may have reclaimed it already.
          if ((model.entries.get(k.name)?.expires ?? Infinity) <= now) continue;
          const reply = bytes(rand, rand() < 0.01 ? 4096 : 20 + pick(100));
          cache.finish(k.peer, k.id, a, reply);
          model.finish(k.name, a, reply);
        } else if (r < 0.85) {
          cache.abandon(k.peer, k.id, a);
          model.abandon(k.name, a);
        } else if (r < 0.97) {
          now += pick(60);
        } else {
          cache.sweep();
          model.sweep();
          if (cache.size !== model.entries.size) mismatches++;
        }
      }
    }
    t.equal(mismatches, 0, `seed ${seed}: every answer and size as the Map's`);
    t.ok(replays > 100, `seed ${seed}: ${replays} replays, ${cache.size} entries live, ring of ${cache.capacity}`);
    now += 10_000;
    cache.sweep();
    t.same([cache.size, cache.addresses, cache.arenaChunks], [0, 0, 0], `seed ${seed}: everything expires`);
  }
});

t.test('a clock that goes back: a reply whose chunk was released is not replayed, the request is decided', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(1000, () => now, { chunkBytes: 4 }); // a chunk per reply
  cache.begin(nas, 0, auth(1));
  cache.begin(nas, 2, auth(1));
  cache.finish(nas, 2, auth(1), Buffer.from('two..'));
  now = 500;
  cache.finish(nas, 0, auth(1), Buffer.from('zero.'));
  now = 1000;
  t.equal(cache.sweep(), 0, '0 (finished at 500) holds 2 back');
  t.equal(cache.arenaChunks, 1, "2's chunk is released");
  now = 900;
  // Replace one entry's reply until under half the arena is live, so the arena is repacked
  // while 2's reply is gone.
  for (let k = 10; k < 20; k++) {
    cache.begin(nas, 5, auth(k));
    cache.finish(nas, 5, auth(k), Buffer.from(`five${k % 10}`));
  }
  // A chunk per reply: without the repack 11 chunks (0's and ten of 5's); it ran at the 6th of
  // 5's replies (35 bytes held, 15 live) and kept 0's and that one, then four more came.
  t.equal(cache.arenaChunks, 6, 'the arena was repacked');
  t.same(cache.begin(nas, 2, auth(1)), { kind: 'new' }, 'the clock went back: 2 looks live, but its reply is gone');
  t.same(cache.begin(nas, 0, auth(1)), { kind: 'replay', reply: Buffer.from('zero.') });
  t.same(cache.begin(nas, 5, auth(19)), { kind: 'replay', reply: Buffer.from('five9') });
});

t.test('the arena is repacked with the ring: replies of replaced entries do not pile up', async (t) => {
  let now = 0;
  const cache = new DuplicateCache(30_000, () => now, { capacity: 16, chunkBytes: 256 });
  const rand = prng(11);
  const last: Buffer[] = [];
  for (let i = 0; i < 2000; i++) {
    const a = Buffer.alloc(16);
    a.writeUInt32BE(i + 1);
    const reply = bytes(rand, 38);
    cache.begin(nas, i & 3, a); // a NAS reusing four identifiers, each time with a new authenticator
    cache.finish(nas, i & 3, a, reply);
    last[i & 3] = reply;
    now += 1;
  }
  t.equal(cache.size, 4);
  t.equal(cache.capacity, 16, 'the ring reuses dead slots instead of growing');
  t.ok(cache.arenaChunks <= 2, `the arena holds the live replies, not 2000 × 38 bytes (${cache.arenaChunks} chunks)`);
  for (let k = 0; k < 4; k++) {
    const a = Buffer.alloc(16);
    a.writeUInt32BE(1996 + k + 1);
    t.same(cache.begin(nas, k, a), { kind: 'replay', reply: last[k] }, `identifier ${k} replays its latest reply`);
  }
});

t.test('the default clock', async (t) => {
  const cache = new DuplicateCache(30_000);
  t.same(cache.begin(nas, 1, auth(1)), { kind: 'new' });
  t.equal(cache.sweep(), 0);
});

t.test('steady load allocates nothing: compactions reuse the spare ring, repacks reuse chunks', async (t) => {
  // As the bench's generator: 16 source ports × 256 identifiers, a new authenticator each time,
  // 16,700 requests/s, replies held 30 s. The ring fills with replaced entries about once a second.
  let now = 0;
  const cache = new DuplicateCache(30_000, () => now, { capacity: 16, chunkBytes: 4096 });
  const rand = prng(5);
  const replies = Array.from({ length: 64 }, () => bytes(rand, 38));
  const a = Buffer.alloc(16);
  let notNew = 0;
  const request = (i: number): void => {
    const peer = { ...nas, port: 40_000 + (i & 15) };
    const id = (i >> 4) & 255;
    a.writeUInt32BE(i + 1);
    if (cache.begin(peer, id, a).kind !== 'new') notNew++;
    cache.finish(peer, id, a, replies[i & 63] as Buffer);
    now += 0.06;
  };
  // A quiet NAS's request stays live at the ring's head for the whole run, so a full ring cannot
  // just drop its head: it is compacted.
  const quiet: DedupPeer = { socket: 0, address: '192.0.2.99', port: 1812 };
  cache.begin(quiet, 1, auth(1));
  cache.finish(quiet, 1, auth(1), Buffer.from('quiet'));
  let i = 0;
  for (; i < 40_000; i++) request(i);
  const capacity = cache.capacity;
  const allocations = cache.allocations;
  t.equal(cache.size, 4097);
  for (; i < 240_000; i++) request(i);
  t.equal(notNew, 0, 'every request was new');
  t.equal(cache.capacity, capacity, `the ring stays at ${capacity} slots`);
  t.equal(cache.allocations, allocations, `12 s more load, a compaction every ~0.75 s: nothing allocated (${allocations} before)`);
  let ok = 0;
  for (let k = i - 4096; k < i; k++) {
    a.writeUInt32BE(k + 1);
    const hit = cache.begin({ ...nas, port: 40_000 + (k & 15) }, (k >> 4) & 255, a);
    if (hit.kind === 'replay' && hit.reply.equals(replies[k & 63] as Buffer)) ok++;
  }
  t.equal(ok, 4096, 'every live entry replays its reply after the reuse');
  t.same(cache.begin(quiet, 1, auth(1)), { kind: 'replay', reply: Buffer.from('quiet') });
  now += 30_000;
  cache.sweep();
  t.same([cache.size, cache.arenaChunks], [0, 0], 'all expired');
});
