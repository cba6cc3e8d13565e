/** Unit tests of the server edge: client table, rate-limited drop log, handler limits (the duplicate cache: dedup.test.ts). */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import { HashQueueTimeout, type Decision } from '../../src/auth/decision.js';
import { ClientTable } from '../../src/server/clients.js';
import { normalizeAddress } from '../../src/config/networks.js';
import { DuplicateCache } from '../../src/server/dedup.js';
import { RateLimitedLog } from '../../src/server/drop-log.js';
import { RequestHandler, type Decider, type MetricsSink, type Peer } from '../../src/server/handler.js';
import { Attr, Code } from '../../src/radius/codes.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';

const YES = { primary: 'local', requireMessageAuthenticator: 'yes' } as const;

t.test('client table: most specific prefix wins; IPv4-mapped addresses; unknown', async (t) => {
  const table = new ClientTable(
    [
      { name: 'wide', address: '10.0.0.0/8', secret: 'a', require_message_authenticator: 'yes' },
      { name: 'narrow', address: '10.1.2.0/24', secret: 'b', require_message_authenticator: 'no', primary: 'none' },
      { name: 'host', address: '10.1.2.3', secret: 'c' },
      { name: 'v6', address: '2001:db8::/32', secret: 'd', require_message_authenticator: 'auto' },
    ],
    { primary: 'local', requireMessageAuthenticator: 'no' },
  );
  t.equal(table.size, 4);
  t.equal(table.lookup('10.1.2.3')?.name, 'host');
  t.equal(table.lookup('10.1.2.4')?.name, 'narrow');
  t.equal(table.lookup('10.1.2.4')?.primary, 'none');
  t.equal(table.lookup('10.9.9.9')?.name, 'wide');
  t.equal(table.lookup('10.9.9.9')?.primary, 'local', 'the [auth] default');
  t.equal(table.lookup('::ffff:10.1.2.3')?.name, 'host', 'IPv4-mapped IPv6');
  t.equal(table.lookup('2001:db8::1')?.name, 'v6');
  t.equal(table.lookup('10.9.9.9')?.ma, 'yes');
  t.equal(table.lookup('10.1.2.4')?.ma, 'no');
  t.equal(table.lookup('10.1.2.3')?.ma, 'no', 'the [server] default');
  t.equal(table.lookup('2001:db8::1')?.ma, 'auto');
  t.equal(table.lookup('192.0.2.1'), null);
  t.equal(table.lookup('192.0.2.1'), null, 'cached miss');
  t.equal(normalizeAddress('::ffff:1.2.3.4'), '1.2.3.4');
  t.equal(normalizeAddress('::ffff:abcd'), '::ffff:abcd');
  const many = new ClientTable([{ name: 'all', address: '0.0.0.0/0', secret: 's' }], YES);
  for (let i = 0; i < 65537; i++) many.lookup(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  t.equal(many.lookup('10.0.0.1')?.name, 'all', 'the cache stays bounded and correct');
});

t.test('client table: a reload keeps an auto decision only for the same client, still auto', async (t) => {
  const gw = { name: 'gw', address: '10.0.0.1', secret: 's', require_message_authenticator: 'auto' as const };
  const first = new ClientTable([gw, { ...gw, name: 'other', address: '10.0.0.2' }, { ...gw, name: 'fixed', address: '10.0.0.3', require_message_authenticator: undefined }], {
    primary: 'local',
    requireMessageAuthenticator: 'yes',
  });
  t.same(first.decided, [], 'nothing decided yet');
  (first.lookup('10.0.0.1') as { ma: string }).ma = 'no';
  (first.lookup('10.0.0.2') as { ma: string }).ma = 'yes';
  t.same(first.decided.sort(), ['gw', 'other']);
  const same = new ClientTable([gw, { ...gw, name: 'other', address: '10.0.0.2', secret: 'new' }, { ...gw, name: 'fixed', address: '10.0.0.3' }], YES, first);
  t.equal(same.lookup('10.0.0.1')?.ma, 'no', 'same name, address, secret: kept');
  t.equal(same.lookup('10.0.0.2')?.ma, 'auto', 'a new secret: decided again');
  t.equal(same.lookup('10.0.0.3')?.ma, 'auto', 'was yes by default, now auto: undecided');
  t.same(same.decided, ['gw']);
  const fixed = new ClientTable([{ ...gw, require_message_authenticator: 'yes' }], YES, same);
  t.equal(fixed.lookup('10.0.0.1')?.ma, 'yes', 'no longer auto: the configured value');
  t.same(fixed.decided, []);
});

t.test('rate-limited drop log: at most N a second per source; the lines count what was left out, by kind', async (t) => {
  let now = 0;
  const lines: Array<[string, number]> = [];
  const log = new RateLimitedLog<string>(2, (item, suppressed) => lines.push([item, suppressed]), () => now);
  for (const x of ['a1', 'a2', 'a3', 'a4']) log.log('a', 'x', x);
  log.log('a', 'y', 'a5');
  log.log('b', 'x', 'b1'); // another source is not held back by a's flood
  log.log('', 'x', 'u1');
  now = 1000;
  log.log('a', 'x', 'a6');
  t.same(lines, [
    ['a1', 0],
    ['a2', 0],
    ['b1', 0],
    ['u1', 0],
    ['a6', 2],
  ], 'the next line of a kind carries its count');
  log.flush();
  t.same(lines.slice(5), [], "a's second is not over");
  now = 2000;
  log.flush();
  t.same(lines.slice(5), [['a5', 0]], 'once it is, the last one left out of each kind is written, with the count of the others');
  log.flush();
  t.equal(lines.length, 6, 'written once');
  for (const x of ['c1', 'c2', 'c3', 'c4', 'c5']) log.log('c', 'x', x);
  log.flush(true);
  t.same(lines.slice(6), [
    ['c1', 0],
    ['c2', 0],
    ['c5', 2],
  ], 'all of it at stop');
  const total = lines.reduce((n, [, suppressed]) => n + 1 + suppressed, 0);
  t.equal(total, 13, 'the lines add up to every item');
  log.setRate(0);
  log.log('d', 'x', 'd1');
  t.equal(lines.length, 9);
  const real = new RateLimitedLog<string>(1, () => {});
  real.log('s', 'k', 'x');
  t.pass('the default clock works');
});

function handlerWith(decider: Decider, limits = { maxPending: 10, maxPendingPerClient: 10 }, now = () => 0, ma: 'yes' | 'auto' = 'yes') {
  const drops: string[] = [];
  const decided: string[] = [];
  const clients = new ClientTable([{ name: 'c', address: '127.0.0.1', secret: 's', require_message_authenticator: ma }], YES);
  const errors: unknown[] = [];
  const audit = memoryAuditSink();
  const metrics: MetricsSink = { request() {}, decision() {}, drop() {}, pending() {} };
  const handler = new RequestHandler({
    clients: () => clients,
    dedup: new DuplicateCache(30_000),
    decider,
    replyAttributes: () => [],
    audit,
    metrics,
    onDrop: (reason) => drops.push(reason),
    onBadRequest: () => undefined,
    onMaDecided: (client) => decided.push(`${client.name}:${client.ma}`),
    onError: (err) => errors.push(err),
    server: { name: 'unit' },
    limits,
    now,
  });
  return { handler, drops, errors, audit, decided };
}

const peer: Peer = { address: '127.0.0.1', port: 5000, socket: 0, localAddress: '127.0.0.1' };
const packet = (id: number, user = 'u', ma: 'first' | 'none' = 'first', extra: Buffer[] = []): Buffer =>
  encodeAccessRequest({ identifier: id, authenticator: randomBytes(16), secret: Buffer.from('s'), userName: user, password: 'p', nasIdentifier: 'n', messageAuthenticator: ma, extra });

const rejects: Decider = { decide: async () => ({ result: 'reject', mode: 'otp', user: 'u', tokenSerial: '', reason: 'wrong-code' }) };

t.test('handler: an auto client is decided by its first Access-Request (RELIABILITY B8)', async (t) => {
  t.test('with Message-Authenticator: required from then on', async (t) => {
    const { handler, drops, decided } = handlerWith(rejects, undefined, undefined, 'auto');
    t.ok(await handler.handle(packet(1), peer));
    t.same(decided, ['c:yes']);
    t.equal(await handler.handle(packet(2, 'u', 'none'), peer), null, 'a request without it is dropped');
    t.same(drops, ['ma-missing']);
    t.same(decided, ['c:yes'], 'decided once');
  });
  t.test('without: not required from then on', async (t) => {
    const { handler, drops, decided } = handlerWith(rejects, undefined, undefined, 'auto');
    t.ok(await handler.handle(packet(1, 'u', 'none'), peer));
    t.ok(await handler.handle(packet(2, 'u', 'none'), peer));
    t.ok(await handler.handle(packet(3), peer), 'one with it is still taken');
    t.same(decided, ['c:no']);
    t.same(drops, []);
  });
  t.test('what does not decide: a dropped request, EAP, Status-Server', async (t) => {
    const { handler, drops, decided } = handlerWith(rejects, undefined, undefined, 'auto');
    const forged = packet(1);
    forged[forged.length - 1]! ^= 1; // the MA (first) no longer matches: the bytes after it changed
    t.equal(await handler.handle(forged, peer), null);
    const eap = Buffer.from([Attr.EapMessage, 7, 2, 0, 0, 5, 1]);
    t.ok(await handler.handle(packet(2, 'u', 'first', [eap]), peer), 'EAP with MA is answered (PAP required)');
    const status = encodeAccessRequest({ code: Code.StatusServer, identifier: 3, authenticator: randomBytes(16), secret: Buffer.from('s') });
    t.equal((await handler.handle(status, peer))?.[0], Code.AccessAccept);
    t.same(decided, [], 'still auto');
    t.same(drops, ['ma-invalid']);
    t.ok(await handler.handle(packet(4, 'u', 'none'), peer));
    t.same(decided, ['c:no']);
  });
});

t.test('handler: each audit line carries the clock of its decision, to the millisecond', async (t) => {
  let clock = Date.UTC(2026, 11, 7, 4, 30, 0, 123) + 0.4;
  const { handler, audit } = handlerWith(
    { decide: async () => ({ result: 'reject', mode: 'otp', user: 'u', tokenSerial: '', reason: 'wrong-code' }) },
    undefined,
    () => clock,
  );
  await handler.handle(packet(1), peer);
  await handler.handle(packet(2), peer);
  clock += 1;
  await handler.handle(packet(3), peer);
  clock += 3_600_000.5;
  await handler.handle(packet(4), peer);
  t.same(
    audit.events.map((e) => e.time),
    ['2026-12-07T04:30:00.123Z', '2026-12-07T04:30:00.123Z', '2026-12-07T04:30:00.124Z', '2026-12-07T05:30:00.124Z'],
  );
});

t.test('handler: a decision that throws is an Access-Reject (internal-error), and reported', async (t) => {
  const { handler, errors, audit } = handlerWith({ decide: async () => Promise.reject(new Error('disk on fire')) });
  const reply = await handler.handle(packet(1), peer);
  t.equal(reply?.[0], Code.AccessReject);
  t.equal((errors[0] as Error).message, 'disk on fire');
  t.match(audit.events[0], { result: 'reject', reason: 'internal-error', user: 'u' });
  t.equal(handler.pendingCount, 0);
});

t.test('handler: a decider that throws before returning a promise is answered the same way', async (t) => {
  const { handler, errors, audit } = handlerWith({
    decide: () => {
      throw new Error('bug');
    },
  });
  t.equal((await handler.handle(packet(1), peer))?.[0], Code.AccessReject);
  t.equal((errors[0] as Error).message, 'bug');
  t.match(audit.events[0], { result: 'reject', reason: 'internal-error', user: 'u' });
  t.equal(handler.pendingCount, 0);
});

t.test('handler: decisions that end after abandon() are dropped: no reply, no audit line, no error line', async (t) => {
  const gates: Array<{ resolve: (d: Decision) => void; reject: (e: Error) => void }> = [];
  const { handler, errors, audit } = handlerWith({ decide: () => new Promise<Decision>((resolve, reject) => gates.push({ resolve, reject })) });
  const accept: Decision = { result: 'accept', mode: 'password', user: 'u', tokenSerial: '', groups: [] };
  const replies = [1, 2, 3].map((id) => handler.handle(packet(id), peer));
  await new Promise((r) => setImmediate(r));
  gates[0]!.resolve(accept);
  t.equal((await replies[0])?.[0], Code.AccessAccept, 'ended before: answered');
  t.equal(handler.abandon(), 2, 'two still under way');
  gates[1]!.resolve(accept);
  gates[2]!.reject(new Error('password hashing is stopped'));
  t.equal(await replies[1], null, 'ended after: no reply');
  t.equal(await replies[2], null, 'failed after: no reply');
  t.same(errors, [], 'and no error line');
  t.equal(audit.events.length, 1, 'only the answered one is audited');
  t.equal(handler.pendingCount, 0);
});

t.test('handler: a Reject with answerAfter is audited at once and answered when it settles, a stop meanwhile included (RELIABILITY O10)', async (t) => {
  const waits: Array<() => void> = [];
  const { handler, audit } = handlerWith({
    decide: async () => ({ result: 'reject', mode: 'password+otp', user: 'u', tokenSerial: 'T1', reason: 'wrong-code', answerAfter: new Promise<void>((r) => waits.push(r)) }),
  });
  let answered: Buffer | null | undefined;
  const one = packet(1);
  const first = handler.handle(one, peer).then((r) => (answered = r));
  const second = handler.handle(packet(2), peer);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.equal(audit.events.length, 2, 'both audited while their answers wait');
  t.equal(answered, undefined, 'not answered yet');
  t.equal(handler.pendingCount, 2, 'and still pending (the stop drains them, the limits count them)');
  t.equal(await handler.handle(one, peer), null, 'a retransmission meanwhile gets no early answer');
  waits[0]!();
  t.equal((await first)?.[0], Code.AccessReject, 'answered when the wait ends');
  t.equal(handler.abandon(), 0, 'a stop does not count the decided one as dropped');
  waits[1]!();
  t.equal((await second)?.[0], Code.AccessReject, 'it is answered after the stop too');
  t.equal(audit.events.length, 2);
  t.equal(handler.pendingCount, 0);
});

t.test('handler: a Reject whose wait timed out (HashQueueTimeout) is audited, then dropped unanswered; a retransmission is not decided again', async (t) => {
  let decided = 0;
  const { handler, audit, drops } = handlerWith({
    decide: async () => {
      decided++;
      return { result: 'reject', mode: 'password+otp', user: 'u', tokenSerial: 'T1', reason: 'wrong-code', answerAfter: Promise.reject(new HashQueueTimeout()) };
    },
  });
  const one = packet(1);
  t.equal(await handler.handle(one, peer), null, 'no answer');
  t.same(drops, ['hash-queue-timeout']);
  t.equal(audit.events.length, 1, 'the decision is audited (its failure was counted)');
  t.equal(await handler.handle(one, peer), null, 'the retransmission');
  t.same(drops, ['hash-queue-timeout', 'duplicate-in-progress'], 'is a duplicate, not a second failure');
  t.equal(decided, 1);
  t.equal(handler.pendingCount, 0);
  t.equal(handler.abandon(), 0, 'nothing left waiting');
});

t.test('handler: over the pending limits, requests are dropped (and can be retried)', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const accept: Decision = { result: 'accept', mode: 'password', user: 'u', tokenSerial: '', groups: [] };
  const { handler, drops } = handlerWith({ decide: async () => (await gate, accept) }, { maxPending: 2, maxPendingPerClient: 1 });
  const first = handler.handle(packet(1), peer);
  const p2 = packet(2);
  t.equal(await handler.handle(p2, peer), null, 'second from the same client: per-client limit');
  t.same(drops, ['overload']);
  const inProgress = packet(3);
  const third = handler.handle(inProgress, { ...peer, port: 5001 });
  void third;
  release();
  t.equal((await first)?.[0], Code.AccessAccept);
  t.equal((await handler.handle(p2, peer))?.[0], Code.AccessAccept, 'the dropped request, retransmitted, is decided');
  const global = handlerWith({ decide: async () => (await new Promise(() => {}), accept) }, { maxPending: 1, maxPendingPerClient: 5 });
  void global.handler.handle(packet(1), peer);
  t.equal(await global.handler.handle(packet(2), { ...peer, port: 6000 }), null, 'global limit');
  t.same(global.drops, ['overload']);
});

t.test('handler: a request that waited too long for password hashing is dropped unanswered (and can be retried)', async (t) => {
  let late = true;
  const accept: Decision = { result: 'accept', mode: 'password', user: 'u', tokenSerial: '', groups: [] };
  const { handler, drops, errors, audit } = handlerWith({ decide: async () => (late ? Promise.reject(new HashQueueTimeout()) : accept) });
  const p = packet(1);
  t.equal(await handler.handle(p, peer), null, 'no Reject: the password was not found wrong');
  t.same(drops, ['hash-queue-timeout']);
  t.same(errors, [], 'not a fault');
  t.same(audit.events, [], 'no decision audited');
  t.equal(handler.pendingCount, 0);
  late = false;
  t.equal((await handler.handle(p, peer))?.[0], Code.AccessAccept, 'the retransmission is decided');
});

t.test('handler: a duplicate while the first is being decided is dropped', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { handler, drops } = handlerWith({ decide: async () => (await gate, { result: 'reject', mode: 'unknown', user: 'u', tokenSerial: '', reason: 'wrong-password' }) });
  const p = packet(4);
  const first = handler.handle(p, peer);
  t.equal(await handler.handle(p, peer), null);
  t.same(drops, ['duplicate-in-progress']);
  release();
  t.equal((await first)?.[0], Code.AccessReject);
  t.same(await handler.handle(p, peer), await first, 'afterwards: the cached reply');
});

t.test('handler: a datagram with trailing padding is accepted (bytes after Length ignored)', async (t) => {
  const { handler } = handlerWith({ decide: async () => ({ result: 'accept', mode: 'password', user: 'u', tokenSerial: '', groups: [] }) });
  const padded = Buffer.concat([packet(5), Buffer.alloc(7)]);
  t.equal((await handler.handle(padded, peer))?.[0], Code.AccessAccept);
});

t.test('handler: EAP, MS-CHAP and CHAP reach the decider as such; a missing User-Name is a bad request', async (t) => {
  const seen: string[] = [];
  const { handler, audit } = handlerWith({
    decide: async (req) => {
      seen.push(req.method);
      return { result: 'reject', mode: 'unknown', user: req.userName, tokenSerial: '', reason: 'unsupported-method', replyMessage: 'PAP' };
    },
  });
  const secret = Buffer.from('s');
  const vsa = Buffer.concat([Buffer.from([0, 0, 0x01, 0x37]), Buffer.from([11, 18]), Buffer.alloc(16, 1)]); // vendor 311, MS-CHAP-Challenge
  const mk = (extra: Buffer[], opts: { password?: string; userName?: string } = {}) =>
    encodeAccessRequest({ identifier: seen.length + 20, authenticator: randomBytes(16), secret, nasIdentifier: 'n', extra, ...opts });
  const { attribute } = await import('../../src/radius/reply.js');
  t.equal((await handler.handle(mk([attribute(79, Buffer.from([2, 1, 0, 5, 1]))], { userName: 'u' }), peer))?.[0], Code.AccessReject);
  t.equal((await handler.handle(mk([attribute(26, vsa)], { userName: 'u' }), peer))?.[0], Code.AccessReject);
  t.equal((await handler.handle(mk([attribute(3, Buffer.alloc(17, 2))], { userName: 'u' }), peer))?.[0], Code.AccessReject);
  t.same(seen, ['eap', 'mschap', 'chap']);
  t.equal((await handler.handle(mk([], { password: 'p' }), peer))?.[0], Code.AccessReject);
  t.same(seen, ['eap', 'mschap', 'chap'], 'no User-Name: rejected before the decider (RFC 2865 §5.1)');
  t.match(audit.events.at(-1), { result: 'reject', user: '', reason: 'bad-request' });
});
