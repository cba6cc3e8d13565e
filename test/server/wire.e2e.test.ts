/**
 * Byte-level behaviour of the running server: RELIABILITY §2's malformed packets are dropped and
 * the server keeps answering; retransmissions get the cached reply byte for byte (RFC 5080);
 * Proxy-State is echoed; replies carry Message-Authenticator first (B7).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Attr, Code } from '../../src/radius/codes.js';
import { attribute } from '../../src/radius/reply.js';
import { encodeAccessRequest, readAttributes, verifyReply } from '../../src/radius/request-encode.js';
import { SECRET, startTestServer } from '../helpers/server.js';
import { UdpClient } from '../helpers/udp-client.js';

const secret = Buffer.from(SECRET);
const malformed = JSON.parse(readFileSync(new URL('../fixtures/radius/malformed.json', import.meta.url), 'utf8')) as {
  rows: Array<{ name: string; hex: string; reason: string }>;
};

t.test('wire behaviour of the running server', async (t) => {
  const s = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n' });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'pw');
  const client = await UdpClient.open();
  t.teardown(() => client.close());
  let id = 0; // requests use identifiers 100-249; the malformed fixtures use 0, so a late reply is never taken for theirs
  const request = (over: Partial<Parameters<typeof encodeAccessRequest>[0]> = {}) =>
    encodeAccessRequest({ identifier: 100 + (id++ % 150), authenticator: randomBytes(16), secret, userName: 'alice', password: 'pw', nasIdentifier: 'gw', ...over });

  t.test('every malformed packet is dropped with its reason, and the server answers afterwards', async (t) => {
    for (const row of malformed.rows) {
      const reply = await client.exchange(Buffer.from(row.hex, 'hex'), s.v4, 300);
      t.equal(reply, null, `${row.name}: no answer`);
      const ok = await client.exchange(request(), s.v4);
      t.ok(ok && ok[0] === Code.AccessAccept, `${row.name}: still answering`);
      t.ok(s.logs.some((l) => l.message === 'dropped packet' && l.reason === row.reason), `${row.name}: logged as ${row.reason}`);
    }
    t.ok(
      s.audit.some((e) => e.event === 'drop' && e.reason === 'short-packet'),
      'drops reach the audit sink too',
    );
  });

  t.test('a retransmission gets the cached reply byte for byte, without a second decision', async (t) => {
    const packet = request();
    const first = await client.exchange(packet, s.v4);
    const decisions = s.audit.filter((e) => e.event === 'decision').length;
    const second = await client.exchange(packet, s.v4);
    t.ok(first && second);
    t.same(second, first, 'byte-identical');
    t.equal(s.audit.filter((e) => e.event === 'decision').length, decisions, 'no second decision');
    // The same identifier with a new authenticator is a new request.
    const fresh = encodeAccessRequest({ identifier: packet[1] as number, authenticator: randomBytes(16), secret, userName: 'alice', password: 'wrong', nasIdentifier: 'gw' });
    const third = await client.exchange(fresh, s.v4);
    t.equal(third?.[0], Code.AccessReject, 'decided anew');
  });

  t.test('replies have Message-Authenticator first and valid authenticators, with or without MA in the request', async (t) => {
    const packet = request({ messageAuthenticator: 'last' });
    const reply = (await client.exchange(packet, s.v4)) as Buffer;
    t.same(verifyReply(reply, packet.subarray(4, 20), secret), { ok: true, maFirst: true });
    t.equal(reply[20], 0x50);
    t.equal(reply[21], 18);
  });

  t.test('Proxy-State is echoed in order', async (t) => {
    const packet = request({ extra: [attribute(Attr.ProxyState, 'one'), attribute(Attr.ProxyState, 'two')] });
    const reply = (await client.exchange(packet, s.v4)) as Buffer;
    const states = readAttributes(reply).filter((a) => a.type === Attr.ProxyState).map((a) => a.value.toString());
    t.same(states, ['one', 'two']);
  });

  t.test('a request that breaks RFC 2865 §4.1 (no NAS-Identifier/NAS-IP) is rejected', async (t) => {
    const reply = await client.exchange(request({ nasIdentifier: undefined }), s.v4);
    t.equal(reply?.[0], Code.AccessReject);
    t.match(s.audit.at(-1), { result: 'reject', reason: 'bad-request' });
    t.ok(
      s.logs.some((l) => l.message === 'malformed request rejected' && l.problem === 'no-nas-id' && l.client === 'local' && /NAS-Identifier/.test(String(l.detail))),
      'the log says what was wrong',
    );
  });

  t.test('a packet from an address that is no client gets nothing', async (t) => {
    const other = await UdpClient.open('udp4', '127.0.0.3');
    t.teardown(() => other.close());
    const reply = await other.exchange(request(), s.v4, 300);
    t.equal(reply, null);
    t.ok(s.logs.some((l) => l.reason === 'unknown-client' && l.client_ip === '127.0.0.3'));
  });

  t.test('a request signed with another secret gets nothing (IPv6)', async (t) => {
    const v6 = await UdpClient.open('udp6');
    t.teardown(() => v6.close());
    const reply = await v6.exchange(request({ secret: Buffer.from('other') }), s.v6!, 300);
    t.equal(reply, null);
    t.ok(s.logs.some((l) => l.reason === 'ma-invalid' && l.client === 'local6'));
  });

  t.test('Status-Server gets Access-Accept and no decision is recorded', async (t) => {
    const before = s.audit.filter((e) => e.event === 'decision').length;
    const packet = encodeAccessRequest({ code: Code.StatusServer, identifier: 7, authenticator: randomBytes(16), secret });
    const reply = (await client.exchange(packet, s.v4)) as Buffer;
    t.equal(reply[0], Code.AccessAccept);
    t.same(verifyReply(reply, packet.subarray(4, 20), secret), { ok: true, maFirst: true });
    t.equal(s.audit.filter((e) => e.event === 'decision').length, before);
  });
});
