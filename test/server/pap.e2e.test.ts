/**
 * Issue 2 "Done when": radclient against the server over loopback, IPv4 and IPv6.
 */
import t from 'tap';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';

const MA = 'Message-Authenticator = 0x00';

t.test('PAP against radclient', async (t) => {
  const s = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n' });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'correct horse');

  t.test('right password → Access-Accept with Message-Authenticator first (IPv4)', async (t) => {
    const r = await radclient(s.v4, SECRET, `User-Name = "alice", User-Password = "correct horse", NAS-Identifier = "gw", ${MA}`);
    t.equal(r.reply, 'Access-Accept', r.stdout);
    t.equal(r.attributes[0]?.[0], 'Message-Authenticator', 'MA is the first attribute');
  });

  t.test('wrong password → Access-Reject (IPv4)', async (t) => {
    const r = await radclient(s.v4, SECRET, `User-Name = "alice", User-Password = "wrong", NAS-Identifier = "gw", ${MA}`);
    t.equal(r.reply, 'Access-Reject');
    t.equal(r.attributes[0]?.[0], 'Message-Authenticator');
  });

  t.test('IPv6: accept and reject', async (t) => {
    t.ok(s.v6, 'listening on [::1]');
    const ok = await radclient(s.v6!, SECRET, `User-Name = "alice", User-Password = "correct horse", NAS-Identifier = "gw", ${MA}`);
    t.equal(ok.reply, 'Access-Accept');
    const bad = await radclient(s.v6!, SECRET, `User-Name = "alice", User-Password = "nope", NAS-Identifier = "gw", ${MA}`);
    t.equal(bad.reply, 'Access-Reject');
  });

  t.test('no Message-Authenticator from a client that requires it → no answer', async (t) => {
    const r = await radclient(s.v4, SECRET, 'User-Name = "alice", User-Password = "correct horse", NAS-Identifier = "gw"', { timeout: 1 });
    t.equal(r.reply, null);
    t.ok(s.logs.some((l) => l.message === 'dropped packet' && l.reason === 'ma-missing'), 'one log line says why');
  });

  t.test('wrong shared secret → no answer', async (t) => {
    const r = await radclient(s.v4, 'not-the-secret', `User-Name = "alice", User-Password = "correct horse", NAS-Identifier = "gw", ${MA}`, { timeout: 1 });
    t.equal(r.reply, null);
    t.ok(s.logs.some((l) => l.reason === 'ma-invalid'));
  });

  t.test('Status-Server → Access-Accept with MA first', async (t) => {
    const r = await radclient(s.v4, SECRET, `${MA}`, { command: 'status' });
    t.equal(r.reply, 'Access-Accept', r.stdout + r.stderr);
    t.equal(r.attributes[0]?.[0], 'Message-Authenticator');
  });

  t.test('CHAP → Access-Reject saying PAP is required', async (t) => {
    const r = await radclient(s.v4, SECRET, `User-Name = "alice", CHAP-Password = "correct horse", NAS-Identifier = "gw", ${MA}`);
    t.equal(r.reply, 'Access-Reject');
    t.match(r.stdout, /Reply-Message = "PAP \(User-Password\) is required"/);
  });

  t.test('the audit sink saw one decision per answered request, with reasons', async (t) => {
    const decisions = s.audit.filter((e) => e.event === 'decision');
    t.ok(decisions.length >= 5);
    t.ok(decisions.some((e) => e.event === 'decision' && e.result === 'reject' && e.reason === 'wrong-password'));
    t.ok(decisions.some((e) => e.event === 'decision' && e.result === 'reject' && e.reason === 'unsupported-method'));
    t.ok(decisions.every((e) => e.event === 'decision' && e.server === 'test-server' && e.client.startsWith('local')));
    const lines = s.logs.filter((l) => l.message === 'decision');
    t.equal(lines.length, decisions.length, 'and one stderr log line per decision');
    t.ok(lines.some((l) => l.result === 'reject' && l.reason === 'wrong-password' && l.user === 'alice'));
    t.notMatch(JSON.stringify(s.logs), /correct horse/, 'never the password');
  });
});
