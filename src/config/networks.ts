/**
 * A client's `address` (an IP or a CIDR block, as schema.ts accepts it) as a network: the same
 * network however it is written ("127.0.0.1/8" is 127.0.0.0/8, "0:0:0:0:0:0:0:1" is ::1, and
 * "::ffff:10.0.0.1" is the IPv4 address 10.0.0.1, as an IPv4 peer shows on a dual-stack socket).
 */
import { BlockList, isIPv4 } from 'node:net';

export interface Network {
  ip: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
  /** Holds exactly this network. */
  list: BlockList;
}

export function parseNetwork(address: string): Network {
  const [written, bits] = address.split('/') as [string, string | undefined];
  let ip = written;
  let prefix = bits === undefined ? undefined : Number(bits);
  const mapped = /^::ffff:(.+)$/i.exec(ip);
  if (mapped !== null && isIPv4(mapped[1] as string) && (prefix === undefined || prefix >= 96)) {
    ip = mapped[1] as string;
    if (prefix !== undefined) prefix -= 96;
  }
  const family = isIPv4(ip) ? 'ipv4' : 'ipv6';
  prefix ??= family === 'ipv4' ? 32 : 128;
  const list = new BlockList();
  list.addSubnet(ip, prefix, family);
  return { ip, family, prefix, list };
}

/** True when a and b are one network, written two ways. */
export function sameNetwork(a: Network, b: Network): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.list.check(b.ip, b.family);
}
