/**
 * Two server instances on one store (RELIABILITY O1/O2): a challenge answered at the other
 * instance succeeds; the same code sent to both at once is accepted exactly once; a
 * retransmission is not a second failure. The second instance is its own process, as in
 * production (two connections in one thread would wait on each other's write lock).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Code } from '../../src/radius/codes.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { hotpCode } from '../../src/otp/generate.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { totpRecord } from '../helpers/store.js';
import { UdpClient } from '../helpers/udp-client.js';
import { serve } from '../helpers/process.js';

const KEY = Buffer.from('shared-store-secret-20');
/** The current time step, read when a code is made (the test runs for seconds; steps move on). */
const stepNow = (): number => Math.floor(Date.now() / 1000 / 30);
const code = (s: number): string => hotpCode(KEY, s, 6, 'SHA1');
const MA = 'Message-Authenticator = 0x00';

t.test('two instances sharing one store', async (t) => {
  const a = await startTestServer({ extra: '[otp]\nmax_failures = 50\n', listen: ['127.0.0.1:0'] });
  t.teardown(() => a.stop());
  const served = await serve(a.configFile);
  t.teardown(() => served.child.kill('SIGKILL'));
  const b = { v4: { host: '127.0.0.1', port: served.port } };
  await a.addUser('alice', 'pw');
  a.server.store.tokens.importMany([totpRecord('SH-1', { user: 'alice', secret: KEY })], { replace: false, createUsers: false });

  t.test('challenge at A, answer at B', async (t) => {
    const ch = await radclient(a.v4, SECRET, `User-Name = "alice", User-Password = "pw", NAS-Identifier = "gw", ${MA}`);
    t.equal(ch.reply, 'Access-Challenge');
    const state = ch.attributes.find(([n]) => n === 'State')?.[1];
    const ok = await radclient(b.v4, SECRET, `User-Name = "alice", User-Password = "${code(stepNow() - 1)}", State = ${state}, NAS-Identifier = "gw", ${MA}`);
    t.equal(ok.reply, 'Access-Accept');
  });

  t.test('the same code at both instances at once: exactly one Accept', async (t) => {
    const base = stepNow();
    for (const offset of [0, 1]) {
      const password = `pw${code(base + offset)}`;
      const clients = await Promise.all([UdpClient.open(), UdpClient.open(), UdpClient.open(), UdpClient.open()]);
      const targets = [a.v4, b.v4, a.v4, b.v4];
      const replies = await Promise.all(
        clients.map((c, i) =>
          c.exchange(
            encodeAccessRequest({ identifier: i, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: 'alice', password, nasIdentifier: `nas-${i}` }),
            targets[i] as { host: string; port: number },
          ),
        ),
      );
      for (const c of clients) c.close();
      const accepts = replies.filter((r) => r?.[0] === Code.AccessAccept).length;
      t.equal(accepts, 1, `step T+${offset}: one Accept out of four`);
      t.equal(replies.filter((r) => r?.[0] === Code.AccessReject).length, 3);
    }
  });

  t.test('a retransmitted wrong code counts one failure', async (t) => {
    a.server.store.tokens.unlock('SH-1');
    const c = await UdpClient.open();
    t.teardown(() => c.close());
    const packet = encodeAccessRequest({ identifier: 9, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: 'alice', password: 'pw000000', nasIdentifier: 'gw' });
    for (let i = 0; i < 3; i++) t.equal((await c.exchange(packet, a.v4))?.[0], Code.AccessReject);
    t.equal(a.server.store.tokens.get('SH-1')?.failures, 1);
  });
});
