/** [metrics] listen: Prometheus text with request, decision and drop counters. */
import t from 'tap';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';

t.test('metrics endpoint of a running server', async (t) => {
  const s = await startTestServer({ extra: '[metrics]\nlisten = "127.0.0.1:0"\n[auth]\nusers_without_token = "password-only"\n' });
  t.teardown(() => s.stop());
  t.ok(s.server.metricsPort, 'metrics port bound');
  await s.addUser('alice', 'pw');
  await radclient(s.v4, SECRET, 'User-Name = "alice", User-Password = "pw", NAS-Identifier = "gw", Message-Authenticator = 0x00');
  await radclient(s.v4, SECRET, 'User-Name = "alice", User-Password = "no", NAS-Identifier = "gw", Message-Authenticator = 0x00');
  await radclient(s.v4, SECRET, 'User-Name = "alice", User-Password = "pw", NAS-Identifier = "gw"', { timeout: 1 });
  const res = await fetch(`http://127.0.0.1:${s.server.metricsPort}/metrics`);
  t.equal(res.status, 200);
  const text = await res.text();
  t.match(text, /radius_requests_total\{code="1"\} 2/);
  t.match(text, /radius_decisions_total\{result="accept",reason="",mode="password"\} 1/);
  t.match(text, /radius_decisions_total\{result="reject",reason="wrong-password",mode="password\+otp"\} 1/);
  t.match(text, /radius_drops_total\{reason="ma-missing"\} 1/);
  t.match(text, /radius_decision_seconds_bucket/);
  t.equal((await fetch(`http://127.0.0.1:${s.server.metricsPort}/other`)).status, 404);
});
