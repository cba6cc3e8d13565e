/**
 * The client table: source address → NAS (RFC 2865 §3: a request from an unknown address is
 * silently discarded). Entries are IPs or CIDR blocks; the most specific (longest prefix) wins.
 */
import { BlockList, isIPv4 } from 'node:net';
import { normalizeAddress, parseNetwork } from '../config/networks.js';
import type { ClientConfig, PrimaryKind } from '../config/schema.js';

export interface Client {
  name: string;
  secret: Buffer;
  requireMessageAuthenticator: boolean;
  primary: PrimaryKind;
}

interface Entry {
  client: Client;
  prefix: number;
  list: BlockList;
}

export class ClientTable {
  private readonly entries: Entry[];
  /** Lookups are on the hot path: remember answers, including "no client", per address. */
  private readonly cache = new Map<string, Client | null>();

  constructor(clients: readonly ClientConfig[], defaultPrimary: PrimaryKind) {
    this.entries = clients
      .map((c) => {
        const { prefix, list } = parseNetwork(c.address);
        const client: Client = {
          name: c.name,
          secret: Buffer.from(c.secret, 'utf8'),
          requireMessageAuthenticator: c.require_message_authenticator,
          primary: c.primary ?? defaultPrimary,
        };
        return { client, prefix, list };
      })
      .sort((a, b) => b.prefix - a.prefix);
  }

  get size(): number {
    return this.entries.length;
  }

  lookup(address: string): Client | null {
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    const ip = normalizeAddress(address);
    const family = isIPv4(ip) ? 'ipv4' : 'ipv6';
    const found = this.entries.find((e) => e.list.check(ip, family))?.client ?? null;
    if (this.cache.size >= 65536) this.cache.clear();
    this.cache.set(address, found);
    return found;
  }
}
