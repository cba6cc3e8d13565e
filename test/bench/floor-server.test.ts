import t from 'tap';
import { floorReply, startFloorServer } from '../../src/bench/floor-server.js';
import { Code } from '../../src/radius/codes.js';
import { radclient } from '../helpers/radclient.js';
import { UdpClient } from '../helpers/udp-client.js';

const SECRET = 'floor-secret';

t.test('the bare responder: radclient gets a valid Access-Reject; only Access-Requests count', async (t) => {
  const s = await startFloorServer(Buffer.from(SECRET));
  t.teardown(() => s.close());
  const target = { host: '127.0.0.1', port: s.port };
  // radclient checks the Response Authenticator and the Message-Authenticator of the reply.
  const r = await radclient(target, SECRET, 'User-Name = "u", User-Password = "123456", Message-Authenticator = 0x00\n');
  t.equal(r.reply, 'Access-Reject');
  const bad = await radclient(target, 'another-secret', 'User-Name = "u", User-Password = "123456"\n', { retries: 1, timeout: 1 });
  t.equal(bad.reply, null, 'a reply signed with another secret is not accepted by radclient');

  const client = await UdpClient.open();
  t.teardown(() => client.close());
  const status = Buffer.alloc(20);
  status.writeUInt8(Code.StatusServer, 0);
  status.writeUInt16BE(20, 2);
  t.equal(await client.exchange(status, target, 300), null, 'not an Access-Request: no reply');
  t.equal(floorReply(Buffer.alloc(5), Buffer.from(SECRET)), null, 'shorter than a header: no reply');

  const metrics = await (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
  t.equal(metrics, 'radius_requests_total{code="1"} 2\n', 'both Access-Requests counted (the second had the wrong secret)');
});
