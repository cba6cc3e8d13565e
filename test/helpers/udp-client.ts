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

  /** The next datagram within `ms`, or null. */
  receive(ms = 1000): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        resolve(null);
      }, ms);
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        resolve(msg);
      };
      this.socket.once('message', onMessage);
    });
  }

  async exchange(packet: Buffer, target: { host: string; port: number }, ms = 1000): Promise<Buffer | null> {
    const reply = this.receive(ms);
    await this.send(packet, target);
    return reply;
  }

  close(): void {
    this.socket.close();
  }
}
