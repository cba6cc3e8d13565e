import t from 'tap';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { precheck, checkMessageAuthenticator } from '../../src/radius/precheck.js';
import { parseAccessRequest } from '../../src/radius/request.js';
import { encodeReply, replyMessage } from '../../src/radius/reply.js';
import { Code } from '../../src/radius/codes.js';

// A real peer: Debian's radclient (freeradius-utils 3.2.1). `Message-Authenticator = 0x00` in its input
// makes it sign the request (it puts MA last), and it verifies the reply's authenticator and MA.
const SECRET = 'rad-otp-test-secret';
const secret = Buffer.from(SECRET);

type Handler = (packet: Buffer) => Buffer | null;
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** Binds a UDP server on port 0, runs radclient once against it, returns radclient's output and what it sent. */
async function exchange(input: string, handler: Handler): Promise<{ out: string; code: number | null; seen: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  const seen: Buffer[] = [];
  sock.on('message', (msg, rinfo) => {
    seen.push(Buffer.from(msg));
    const reply = handler(msg);
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn('radclient', ['-x', '-r', '1', '-t', '2', `127.0.0.1:${port}`, 'auth', SECRET], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ out, code, seen }));
      child.stdin.end(input);
    });
  } finally {
    sock.close();
  }
}

const INPUT = 'User-Name = "bob", User-Password = "pw", NAS-Identifier = "nas-rc", Proxy-State = 0x70733031, Message-Authenticator = 0x00\n';

/** Our server side in miniature: precheck → MA (required) → parse → reply with MA first. */
function serve(t: TapTest, code: number, tamper = false): Handler {
  return (datagram) => {
    const r = precheck(datagram);
    t.ok(r.ok, 'radclient request passes precheck');
    if (!r.ok) return null;
    const packet = datagram.subarray(0, r.view.length);
    t.equal(r.view.maOffset, r.view.length - 16, 'radclient puts Message-Authenticator last (B2)');
    t.equal(checkMessageAuthenticator(packet, r.view, secret, true), 'ok', 'its Message-Authenticator verifies');
    t.equal(checkMessageAuthenticator(packet, r.view, Buffer.from('wrong'), true), 'ma-invalid');
    const req = parseAccessRequest(packet, secret);
    t.equal(req.userName, 'bob');
    t.equal(req.password?.toString(), 'pw', 'User-Password decrypts');
    t.equal(req.nasIdentifier, 'nas-rc');
    t.same(req.proxyStates.map(String), ['ps01']);
    t.equal(req.problem, undefined);
    const reply = encodeReply({
      code,
      identifier: req.identifier,
      requestAuthenticator: req.authenticator,
      secret,
      attributes: replyMessage('hello from radius-otp'),
      proxyStates: req.proxyStates,
    });
    if (tamper) {
      // Corrupt MA, then recompute a valid Response Authenticator: only the MA check can catch it.
      reply[30]! ^= 0x01;
      req.authenticator.copy(reply, 4);
      createHash('md5').update(reply).update(secret).digest().copy(reply, 4);
    }
    return reply;
  };
}

t.test('radclient accepts our Access-Accept (MA first, Proxy-State echoed)', async (t) => {
  const { out, code, seen } = await exchange(INPUT, serve(t, Code.AccessAccept));
  t.equal(seen.length, 1);
  t.match(out, /Received Access-Accept/);
  t.match(out, /Reply-Message = "hello from radius-otp"/);
  t.equal(code, 0);
});

t.test('radclient accepts our Access-Reject', async (t) => {
  const { out } = await exchange(INPUT, serve(t, Code.AccessReject));
  t.match(out, /Received Access-Reject/);
});

t.test('radclient refuses a reply whose MA is wrong but whose Response Authenticator is right', async (t) => {
  const { out, code } = await exchange(INPUT, serve(t, Code.AccessAccept, true));
  t.notMatch(out, /Received Access-Accept/);
  t.match(out, /Message-Authenticator/i, 'radclient names the Message-Authenticator as the fault');
  t.not(code, 0);
});
