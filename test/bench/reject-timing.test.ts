/** The O10 timing probe of the bench, against a responder in this test (its figures are the bench's). */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { describeReplies, spread, timeCauses } from '../../src/bench/reject-timing.js';
import { parseAccessRequest } from '../../src/radius/request.js';

t.test('one request per cause per round, each after the last reply; the codes each got', async (t) => {
  const seen: string[] = [];
  const server = createSocket('udp4');
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  server.on('message', (msg, peer) => {
    const name = parseAccessRequest(msg, Buffer.from('s')).userName ?? '';
    seen.push(name);
    if (name === 'silent') return; // never answered: the probe's timeout
    const reply = Buffer.alloc(20);
    reply[0] = name === 'ok' ? 2 : name === 'odd' ? 99 : 3;
    reply[1] = msg[1]!;
    server.send(reply.subarray(0, name === 'short' ? 10 : 20), peer.port, peer.address);
  });
  const port = server.address().port;
  const timed = await timeCauses(
    port,
    's',
    [
      { name: 'wrong', request: (r) => ({ user: r === 0 ? 'nobody' : 'ok', password: 'pw123456' }) },
      { name: 'odd', request: () => ({ user: 'odd', password: 'x' }) },
      { name: 'silent', request: () => ({ user: 'silent', password: 'x' }) },
      { name: 'short', request: () => ({ user: 'short', password: 'x' }) },
    ],
    2,
    50,
  );
  t.same(seen, ['nobody', 'odd', 'silent', 'short', 'ok', 'odd', 'silent', 'short'], 'the causes in turn, round by round');
  t.same(timed.map((x) => x.name), ['wrong', 'odd', 'silent', 'short']);
  t.ok(timed.every((x) => x.ms.length === 2 && x.ms.every((ms) => ms >= 0)), 'a time per round');
  t.ok((timed[2] as { ms: number[] }).ms.every((ms) => ms >= 45), 'an unanswered request counts its timeout');
  t.equal(describeReplies(timed[0]!.replies), 'reject ×1, accept ×1');
  t.equal(describeReplies(timed[1]!.replies), 'code 99 ×2');
  t.equal(describeReplies(timed[2]!.replies), 'none ×2');
  t.equal(describeReplies(timed[3]!.replies), 'none ×2', 'a datagram shorter than a header is no reply');
});

t.test('the password goes hidden (RFC 2865 §5.2), as from a NAS', async (t) => {
  const server = createSocket('udp4');
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  let password = '';
  server.on('message', (msg, peer) => {
    password = parseAccessRequest(msg, Buffer.from('s')).password?.toString() ?? '';
    const reply = Buffer.alloc(20);
    reply[0] = 3;
    reply[1] = msg[1]!;
    server.send(reply, peer.port, peer.address);
  });
  await timeCauses(server.address().port, 's', [{ name: 'x', request: () => ({ user: 'u', password: 'secret123456' }) }], 1);
  t.equal(password, 'secret123456');
});

t.test('spread: the largest median over the smallest, less one', async (t) => {
  t.equal(spread([10, 12, 11]), 0.2);
  t.equal(spread([7]), 0);
});
