/**
 * The client table: source address → NAS (RFC 2865 §3: a request from an unknown address is
 * silently discarded). Entries are IPs or CIDR blocks; the most specific (longest prefix) wins.
 */
import { BlockList, isIPv4 } from 'node:net';
import { normalizeAddress, parseNetwork } from '../config/networks.js';
import type { ClientConfig, Config, MaPolicy, PrimaryKind } from '../config/schema.js';

export interface Client {
  name: string;
  secret: Buffer;
  /**
   * What its requests must carry (RELIABILITY B1): 'auto' until its first Access-Request decides
   * (B8, see settleAuto), then 'yes' or 'no' for the life of the process.
   */
  ma: MaPolicy;
  primary: PrimaryKind;
}

/** What a [[client]] without its own setting takes from [server] and [auth]. */
export interface ClientDefaults {
  primary: PrimaryKind;
  requireMessageAuthenticator: MaPolicy;
}

export const clientDefaults = (config: Pick<Config, 'server' | 'auth'>): ClientDefaults => ({
  primary: config.auth.primary,
  requireMessageAuthenticator: config.server.require_message_authenticator,
});

/** The client's configured policy: its own key, else the [server] default. */
export const configuredMa = (c: ClientConfig, defaults: ClientDefaults): MaPolicy => c.require_message_authenticator ?? defaults.requireMessageAuthenticator;

interface Entry {
  client: Client;
  /** The client as configured: a reload keeps an auto decision only for the very same client. */
  config: ClientConfig;
  configured: MaPolicy;
  prefix: number;
  list: BlockList;
}

export class ClientTable {
  private readonly entries: Entry[];
  /** Lookups are on the hot path: remember answers, including "no client", per address. */
  private readonly cache = new Map<string, Client | null>();

  /**
   * `previous` is the table a reload replaces: a client configured exactly as before (name,
   * address, secret, auto) keeps what its first request decided, so SIGHUP does not reopen it.
   */
  constructor(clients: readonly ClientConfig[], defaults: ClientDefaults, previous?: ClientTable) {
    this.entries = clients
      .map((c) => {
        const { prefix, list } = parseNetwork(c.address);
        const configured = configuredMa(c, defaults);
        const client: Client = {
          name: c.name,
          secret: Buffer.from(c.secret, 'utf8'),
          ma: configured === 'auto' ? (previous?.decidedFor(c) ?? configured) : configured,
          primary: c.primary ?? defaults.primary,
        };
        return { client, config: c, configured, prefix, list };
      })
      .sort((a, b) => b.prefix - a.prefix);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Names of the clients whose auto policy has been decided. */
  get decided(): string[] {
    return this.entries.filter((e) => e.configured === 'auto' && e.client.ma !== 'auto').map((e) => e.client.name);
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

  private decidedFor(c: ClientConfig): MaPolicy | undefined {
    const e = this.entries.find((x) => x.configured === 'auto' && x.config.name === c.name && x.config.address === c.address && x.config.secret === c.secret);
    return e?.client.ma;
  }
}
