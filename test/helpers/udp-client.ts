/** A byte-level RADIUS client over loopback UDP, for cases radclient cannot produce. */
import { createSocket, type Socket } from 'node:dgram';

export class UdpClient {
  private constructor(private readonly socket: Socket) {}

  static async open(family: 'udp4' | 'udp6' = 'udp4', address = family === 'udp4' ? '127.0.0.1' : '::1'): Promise<UdpClient> {
    const socket = createSocket(family);
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new UdpClient(socket);
  }

  send(packet: Buffer, target: { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(packet, target.port, target.host, (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram within `ms` (with this RADIUS identifier, when given), or null. */
  receive(ms = 1000, identifier?: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        resolve(null);
      }, ms);
      const onMessage = (msg: Buffer): void => {
        if (identifier !== undefined && msg[1] !== identifier) return; // a late reply to an earlier request
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(msg);
      };
      this.socket.on('message', onMessage);
    });
  }

  /**
   * Sends a request and waits for the reply with its identifier. Generous by default: an argon2id
   * check took over 5 s on a loaded 2-core CI machine. Tests expecting no reply pass a short `ms`.
   */
  async exchange(packet: Buffer, target: { host: string; port: number }, ms = 20_000): Promise<Buffer | null> {
    const reply = this.receive(ms, packet[1]);
    await this.send(packet, target);
    return reply;
  }

  close(): void {
    this.socket.close();
  }
}
