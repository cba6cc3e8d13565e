/**
 * The machine's floor for the code-only runs: a bare Node RADIUS responder that answers every
 * Access-Request with an Access-Reject (Message-Authenticator first, Response Authenticator,
 * RFC 2865 §3) and does nothing else — no client table, no decision, no store. Run under the
 * same placement and generators as the server, it shows what receiving, encoding and sending a
 * reply costs on this machine at that moment, so a bench table carries its own reference: the
 * server's figures are read against it (the VM's speed varies ±30 % from minute to minute).
 *
 *   node dist/bench/floor-server.js SECRET   → prints "listening on 127.0.0.1:PORT" and
 *   "metrics on 127.0.0.1:PORT" (radius_requests_total{code="1"}, as the server's /metrics).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Code, HEADER_LENGTH } from '../radius/codes.js';
import { encodeReply } from '../radius/reply.js';

const NO_ATTRIBUTES: readonly Buffer[] = [];
const NO_PROXY_STATES: readonly Buffer[] = [];

/** The reply to one datagram, or null when it is not an Access-Request. */
export function floorReply(datagram: Buffer, secret: Buffer): Buffer | null {
  if (datagram.length < HEADER_LENGTH || datagram[0] !== Code.AccessRequest) return null;
  return encodeReply({
    code: Code.AccessReject,
    identifier: datagram[1] as number,
    requestAuthenticator: datagram.subarray(4, HEADER_LENGTH),
    secret,
    attributes: NO_ATTRIBUTES,
    proxyStates: NO_PROXY_STATES,
  });
}

/** The responder and its counter endpoint on 127.0.0.1, ephemeral ports. */
export async function startFloorServer(secret: Buffer): Promise<{ port: number; metricsPort: number; close(): void }> {
  let requests = 0;
  const socket = createSocket({
    type: 'udp4',
    recvBufferSize: 4 << 20,
    // As src/server/udp.ts: the peer is an IP literal, no name lookup before each send.
    lookup: (address, _opts, cb) => cb(null, address, 4),
  });
  const sent = (): void => undefined;
  socket.on('message', (msg, rinfo) => {
    const reply = floorReply(msg, secret);
    if (reply === null) return;
    requests++;
    socket.send(reply, rinfo.port, rinfo.address, sent);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const http = createServer((_req, res) => res.end(`radius_requests_total{code="1"} ${requests}\n`));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    metricsPort: (http.address() as AddressInfo).port,
    close() {
      socket.close();
      http.close();
    },
  };
}

/* c8 ignore start -- run as a process by the bench (procs.ts startFloorProcess) */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const s = await startFloorServer(Buffer.from(process.argv[2] ?? ''));
  process.stdout.write(`listening on 127.0.0.1:${s.port}\nmetrics on 127.0.0.1:${s.metricsPort}\n`);
  process.once('SIGTERM', () => s.close());
}
/* c8 ignore stop */
