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

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) → "10.0.0.1"; any other address as it is. */
export function normalizeAddress(ip: string): string {
  return /^::ffff:/i.test(ip) && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export function parseNetwork(address: string): Network {
  const [written, bits] = address.split('/') as [string, string | undefined];
  let ip = written;
  let prefix = bits === undefined ? undefined : Number(bits);
  // An IPv4-mapped block (::ffff:0:0/96 or narrower) is that IPv4 block.
  if (prefix === undefined || prefix >= 96) {
    ip = normalizeAddress(written);
    if (ip !== written && prefix !== undefined) prefix -= 96;
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
