/**
 * LdapAuthenticator on a misbehaving network: TLS verification (ldaps:// and StartTLS), a server
 * that accepts and never answers, a StartTLS handshake that stalls, and pooled connections that
 * break (through a TCP proxy the test controls).
 */
import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Client } from 'ldapts';
import type { Config } from '../../src/config/schema.js';
import { LdapAuthenticator } from '../../src/auth/ldap.js';
import { startSlapd, ldapConfig } from '../helpers/slapd.js';

const slapd = await startSlapd();
t.teardown(() => slapd.stop());

const config = (over: Partial<Config['ldap']> = {}): Config['ldap'] => ldapConfig(slapd, over);

function authenticator(over: Partial<Config['ldap']> = {}): LdapAuthenticator {
  const a = new LdapAuthenticator(config(over));
  t.teardown(() => a.close());
  return a;
}

/** Listens on a free loopback port; at the end, closes the server and every connection it accepted. */
async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  const accepted = new Set<Socket>();
  server.on('connection', (s) => {
    accepted.add(s);
    s.on('close', () => accepted.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(async () => {
    for (const s of accepted) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const addr = server.address();
  return typeof addr === 'object' && addr !== null ? addr.port : 0;
}

/** A TCP proxy to a port: forwards, swallows everything (blackhole), or drops new connections (reset). */
class Proxy {
  mode: 'forward' | 'blackhole' | 'reset' = 'forward';
  readonly sockets = new Set<Socket>();
  readonly server: Server;
  constructor(targetPort: number) {
    this.server = createServer((client) => {
      client.on('error', () => undefined);
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      if (this.mode === 'reset') {
        client.destroy();
        return;
      }
      if (this.mode === 'blackhole') return;
      const upstream = connect(targetPort, '127.0.0.1');
      upstream.on('error', () => undefined);
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      client.on('data', (d) => this.mode !== 'blackhole' && upstream.write(d));
      upstream.on('data', (d) => this.mode !== 'blackhole' && client.write(d));
    });
    t.teardown(() => this.dropAll());
  }
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

async function proxyTo(port: number, host = '127.0.0.1'): Promise<{ proxy: Proxy; url: string }> {
  const proxy = new Proxy(port);
  const p = await listen(proxy.server, host);
  return { proxy, url: `ldap://${host.includes(':') ? `[${host}]` : host}:${p}` };
}

/** The pool of an authenticator (private), to wait for its connections to notice a drop. */
function pool(a: LdapAuthenticator): { client: Client }[] {
  return (a as unknown as { idle: { client: Client }[] }).idle;
}

const ALICE = { ok: true, user: 'alice', groups: ['cn=VPN-Admins,ou=Groups,dc=example,dc=com', 'cn=VPN-Users,ou=Groups,dc=example,dc=com'] };

t.test('ldaps:// with ca_file: verified, ok', async (t) => {
  const a = authenticator({ urls: [slapd.ldapsUrl], ca_file: slapd.caFile });
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
  // by host name (SNI) too: the certificate names localhost
  const byName = authenticator({ urls: [`ldaps://localhost:${slapd.ldapsPort}`], ca_file: slapd.caFile });
  t.same(await byName.verify('alice', 'alice-pass-1'), ALICE);
});

t.test('ldaps:// without the CA: the certificate is not trusted, fail closed', async (t) => {
  const a = authenticator({ urls: [slapd.ldapsUrl] });
  t.match(await a.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /certificate/i });
});

t.test('ldaps:// to a name the certificate does not carry: refused', async (t) => {
  // [::1] forwarded to the ldaps port; the certificate is for 127.0.0.1 and localhost only.
  const { url } = await proxyTo(slapd.ldapsPort, '::1');
  const a = authenticator({ urls: [url.replace('ldap://', 'ldaps://')], ca_file: slapd.caFile });
  t.match(await a.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /altnames|IP: ::1/i });
});

t.test('StartTLS with ca_file: ok; without it: fail closed', async (t) => {
  const a = authenticator({ starttls: true, ca_file: slapd.caFile });
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
  t.match(await a.verify('alice', 'nope'), { ok: false, reason: 'wrong-password' });
  const untrusted = authenticator({ starttls: true });
  t.match(await untrusted.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /certificate/i });
});

t.test('a StartTLS handshake that never completes times out', async (t) => {
  // Says yes to the StartTLS extended request (RFC 4511 §4.14), then ignores the ClientHello.
  const oid = Buffer.from('1.3.6.1.4.1.1466.20037');
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (req) => {
      const id = req[4] as number; // 30 LL 02 01 <messageID>
      const ext = Buffer.concat([Buffer.from([0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x8a, oid.length]), oid]);
      const op = Buffer.concat([Buffer.from([0x78, ext.length]), ext]);
      const msgId = Buffer.from([0x02, 0x01, id]);
      s.write(Buffer.concat([Buffer.from([0x30, msgId.length + op.length]), msgId, op]));
    });
  });
  const port = await listen(server);
  const a = authenticator({ urls: [`ldap://127.0.0.1:${port}`], starttls: true, ca_file: slapd.caFile, timeout: 0.3 });
  t.match(await a.verify('alice', 'alice-pass-1'), {
    ok: false,
    reason: 'directory-unavailable',
    detail: /StartTLS handshake timed out/,
  });
});

t.test('a server that accepts and never answers: timeout, then the next URL', async (t) => {
  const server = createServer((s) => s.on('error', () => undefined));
  const port = await listen(server);
  const a = authenticator({ urls: [`ldap://127.0.0.1:${port}`, slapd.url], timeout: 0.3 });
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
  const alone = authenticator({ urls: [`ldap://127.0.0.1:${port}`], timeout: 0.3 });
  t.match(await alone.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /timed out/ });
});

t.test('a pooled connection dropped by the server is not reused', async (t) => {
  const { proxy, url } = await proxyTo(slapd.port);
  const a = authenticator({ urls: [url] });
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
  t.equal(pool(a).length, 1);
  proxy.dropAll();
  while (pool(a).some((p) => p.client.isConnected)) await new Promise((r) => setTimeout(r, 10));
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
});

t.test('a pooled connection that stops answering: timeout, then fresh connections in URL order', async (t) => {
  const { proxy, url } = await proxyTo(slapd.port);
  const a = authenticator({ urls: [url, slapd.url], timeout: 0.3 });
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
  proxy.mode = 'blackhole';
  t.same(await a.verify('alice', 'alice-pass-1'), ALICE);
});

t.test('the user bind cannot connect: next URL, or directory-unavailable', async (t) => {
  const { proxy, url } = await proxyTo(slapd.port);
  const alone = authenticator({ urls: [url] });
  const two = authenticator({ urls: [url, slapd.url] });
  t.same(await alone.verify('alice', 'alice-pass-1'), ALICE);
  t.same(await two.verify('alice', 'alice-pass-1'), ALICE);
  proxy.mode = 'reset'; // pooled search connections still work; new ones are dropped
  t.match(await alone.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /^user bind: / });
  t.same(await two.verify('alice', 'alice-pass-1'), ALICE);
});
