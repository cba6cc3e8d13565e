/**
 * RELIABILITY R10: one NAS flooding wrong passwords does not hold up another's logins. The real
 * hasher, one thread: the flood's checks wait behind each other, the other client's is next.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Code } from '../../src/radius/codes.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { UdpClient } from '../helpers/udp-client.js';

const FLOOD = 40;
const FLOOD_SECRET = Buffer.from('flood-secret');

t.test('a flood from one client: the other client is answered next, the flood is answered or dropped', async (t) => {
  const s = await startTestServer({
    server: 'hash_threads = 1',
    extra: '[auth]\nusers_without_token = "password-only"\n',
    clients: `[[client]]\nname = "flood"\naddress = "127.0.0.2"\nsecret = "${FLOOD_SECRET}"\n`,
  });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'correct horse');

  const flood = createSocket('udp4');
  t.teardown(() => flood.close());
  await new Promise<void>((resolve) => flood.bind(0, '127.0.0.2', resolve));
  const floodReplies: number[] = [];
  let firstReply!: () => void;
  const answered = new Promise<void>((resolve) => (firstReply = resolve));
  flood.on('message', (msg) => {
    floodReplies.push(msg[0] as number);
    firstReply();
  });
  // A password with no code at its end: one hash a request.
  for (let id = 0; id < FLOOD; id++) {
    const packet = encodeAccessRequest({ identifier: id, authenticator: randomBytes(16), secret: FLOOD_SECRET, userName: 'alice', password: 'guess', nasIdentifier: 'flood' });
    flood.send(packet, s.v4.port, s.v4.host);
  }
  await answered; // the flood is being worked through, the rest of it queued

  const nas = await UdpClient.open('udp4', '127.0.0.1');
  t.teardown(() => nas.close());
  const before = floodReplies.length;
  const login = encodeAccessRequest({ identifier: 1, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: 'alice', password: 'correct horse', nasIdentifier: 'gw' });
  const reply = await nas.exchange(login, s.v4);
  t.equal(reply?.[0], Code.AccessAccept, 'the login is answered');
  const meanwhile = floodReplies.length - before;
  t.ok(meanwhile <= 2, `after at most the flood's check under way (and one more sent as the login left): ${meanwhile} of ${FLOOD - before} left`);

  // Each flood request ends answered (Access-Reject) or, if it waited too long for the hashing
  // thread on a slow machine, dropped and audited as such; none is left hanging.
  const dropped = (): number => s.audit.filter((e) => e.event === 'drop' && e.client === 'flood' && e.reason === 'hash-queue-timeout').length;
  while (floodReplies.length + dropped() < FLOOD) await new Promise((r) => setTimeout(r, 50));
  t.equal(floodReplies.length + dropped(), FLOOD);
  t.ok(floodReplies.every((code) => code === Code.AccessReject), 'every flood reply is an Access-Reject');
  const rejects = s.audit.filter((e) => e.event === 'decision' && e.client === 'flood');
  t.equal(rejects.length, floodReplies.length, 'one audited decision per answer');
});
