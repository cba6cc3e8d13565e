/**
 * UDP sockets: one per `server.listen` address, IPv4 and IPv6. Each reply leaves from the socket
 * its request came in on (RELIABILITY R10), so the NAS sees the address it sent to.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { LookupOneOptions } from 'node:dns';
import { parseListen } from '../config/schema.js';
import type { Peer, RequestHandler } from './handler.js';

export interface BoundSocket {
  listen: string;
  address: string;
  port: number;
}

/**
 * Replies go to the address a request came from, always an IP literal, so the name lookup dgram
 * does before every send (dns.lookup, then a tick) is skipped: the address is handed straight back.
 */
function literalLookup(
  address: string,
  _options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** A `server.listen` entry that could not be bound (the sockets bound before it are closed again). */
export class BindError extends Error {
  constructor(
    readonly index: number,
    readonly listen: string,
    readonly error: NodeJS.ErrnoException,
  ) {
    super(error.message);
    this.name = 'BindError';
  }
}

export class UdpServer {
  private sockets: Socket[] = [];
  /** One callback for every send (no closure per reply). */
  private readonly sent = (err: Error | null): void => {
    if (err) this.onSendError(err);
  };

  constructor(
    private readonly handler: () => RequestHandler,
    private readonly onSendError: (err: Error) => void,
  ) {}

  async listen(addresses: readonly string[]): Promise<BoundSocket[]> {
    const bound: BoundSocket[] = [];
    try {
      for (const listen of addresses) {
        const { host, port } = parseListen(listen) as { host: string; port: number };
        const v6 = host.includes(':');
        const socket = createSocket({
          type: v6 ? 'udp6' : 'udp4',
          ...(v6 ? { ipv6Only: true } : {}),
          recvBufferSize: 4 << 20,
          lookup: literalLookup,
        });
        const index = this.sockets.length;
        this.sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: host, port, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        const local = socket.address();
        socket.on('error', this.onSendError);
        socket.on('message', (msg, rinfo) => this.receive(socket, index, local.address, msg, rinfo.address, rinfo.port));
        bound.push({ listen, address: local.address, port: local.port });
      }
    } catch (err) {
      await this.close();
      throw new BindError(bound.length, addresses[bound.length] as string, err as NodeJS.ErrnoException);
    }
    return bound;
  }

  private receive(socket: Socket, index: number, localAddress: string, msg: Buffer, address: string, port: number): void {
    const peer: Peer = { address, port, socket: index, localAddress };
    this.handler()
      .handle(msg, peer)
      .then((reply) => {
        if (reply !== null) socket.send(reply, port, address, this.sent);
      })
      .catch(this.onSendError);
  }

  /** Stops taking datagrams; replies to requests already taken still go out until close(). */
  stopReceiving(): void {
    for (const s of this.sockets) s.removeAllListeners('message');
  }

  async close(): Promise<void> {
    const sockets = this.sockets;
    this.sockets = [];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())).catch(() => undefined)));
  }
}
