/**
 * Primary credential against a directory (AD, OpenLDAP): search the user with a service
 * account, then bind as the entry found with the password given.
 *
 * - The user id returned is the directory's own value of the attribute the filter matches
 *   `{user}` with (`sAMAccountName` in `(sAMAccountName={user})`, `uid` in `(uid={user})`):
 *   "ALICE" logs in as "alice" when the directory spells it so, and that is the name tokens
 *   are assigned to. When the filter has no such equality (`(mail={user}@corp)`), it is the
 *   name as typed.
 * - Groups are the values (DNs) of `group_attribute` (memberOf) read in the same search.
 * - URLs are tried in order when a server cannot be reached, times out or refuses the service
 *   bind; all failing is `directory-unavailable` (fail closed).
 * - TLS (ldaps:// or StartTLS) always verifies the certificate; `ca_file` adds to the system CAs.
 * - Searches reuse a small pool of service-bound connections; every user bind gets a fresh
 *   connection, closed at once, because a bind changes the connection's identity.
 * - An empty password never reaches the directory: LDAP treats a DN with an empty password as an
 *   unauthenticated bind, which "succeeds" without checking anything (RFC 4513 §5.1.2).
 * Passwords are never put in a result, an error or a log line.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { Client, FilterParser, ResultCodeError, type Entry } from 'ldapts';
import type { Config } from '../config/schema.js';
import type { PrimaryAuthenticator, PrimaryFailure, PrimaryResult } from './primary.js';
import { userAttributeOf, userFilter, userNameProblem } from './ldap-filter.js';

/** Idle service-bound connections kept for searches. */
export const POOL_SIZE = 4;

/** A result, plus on failures a short reason for the audit log (never a password). */
export type LdapResult = PrimaryResult & { detail?: string };
/** A refusal, with what happened (for the log; never a password). */
type LdapFailure = { ok: false; reason: PrimaryFailure; detail: string };

export type LdapConfigErrorCode = 'ldap-config';

/** A fault in the [ldap] section: the server should refuse to start. */
export class LdapConfigError extends Error {
  readonly code: LdapConfigErrorCode = 'ldap-config';
  constructor(
    /** dotted key, e.g. "ldap.bind_password_file" */
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
    this.name = 'LdapConfigError';
  }
}

export interface LdapDeps {
  /** Reads bind_password_file and ca_file (default: fs.readFileSync as UTF-8). */
  readFile?: (path: string) => string;
  /** Each directory-unavailable answer, with what failed (never a password). */
  onUnavailable?: (detail: string) => void;
}

type LdapConfig = Config['ldap'];

interface Target {
  url: string;
  host: string;
  secure: boolean;
}

function fail(reason: PrimaryFailure, detail: string): LdapFailure {
  return { ok: false, reason, detail };
}

/** An error's name and message, for the log; ldapts messages carry no credentials. */
function describe(err: unknown): string {
  const e = err as Error;
  return `${e.name}: ${String(e.message).split('\n')[0]}`;
}

/** All values of an attribute (names compare case-insensitively); Buffers become UTF-8 text. */
function values(entry: Entry, attribute: string): string[] {
  const wanted = attribute.toLowerCase();
  return Object.entries(entry)
    .filter(([k]) => k !== 'dn' && k.toLowerCase() === wanted)
    .flatMap(([, v]) => (Array.isArray(v) ? v : [v]).map((x) => x.toString()));
}

export class LdapAuthenticator implements PrimaryAuthenticator {
  private readonly targets: Target[];
  private readonly bindDn: string;
  private readonly bindPassword: string;
  private readonly ca: string | undefined;
  private readonly ms: number;
  private readonly userAttribute: string | null;
  private readonly attributes: string[];
  /** service-bound connections waiting for a search, with the index of their URL */
  private readonly idle: { client: Client; index: number }[] = [];
  /** every open connection (idle, searching, binding a user), for close() */
  private readonly live = new Set<Client>();
  private closed = false;

  private readonly onUnavailable: (detail: string) => void;

  constructor(
    private readonly cfg: LdapConfig,
    deps: LdapDeps = {},
  ) {
    this.onUnavailable = deps.onUnavailable ?? (() => {});
    const readFile = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
    const read = (key: string, path: string): string => {
      try {
        return readFile(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new LdapConfigError(key, `cannot read ${path}${code ? ` (${code})` : ''}`);
      }
    };

    if (cfg.urls.length === 0) throw new LdapConfigError('ldap.urls', 'at least one URL is needed');
    this.targets = cfg.urls.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new LdapConfigError('ldap.urls', `not a URL: ${url}`);
      }
      const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
      return { url, host, secure: parsed.protocol === 'ldaps:' };
    });
    if (cfg.base_dn === '') throw new LdapConfigError('ldap.base_dn', 'is required');

    if (cfg.bind_password !== '' && cfg.bind_password_file !== '') {
      throw new LdapConfigError('ldap.bind_password', 'set bind_password or bind_password_file, not both');
    }
    const password =
      cfg.bind_password_file !== ''
        ? (read('ldap.bind_password_file', cfg.bind_password_file).split(/\r?\n/)[0] as string)
        : cfg.bind_password;
    if (cfg.bind_dn !== '' && password === '') {
      // An empty password would be an unauthenticated bind: it "succeeds" as anonymous.
      throw new LdapConfigError(cfg.bind_password_file !== '' ? 'ldap.bind_password_file' : 'ldap.bind_password', 'is empty');
    }
    if (cfg.bind_dn === '' && password !== '') throw new LdapConfigError('ldap.bind_dn', 'is required with a bind password');
    this.bindDn = cfg.bind_dn;
    this.bindPassword = password;

    if (cfg.ca_file !== '') {
      const pem = read('ldap.ca_file', cfg.ca_file);
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new LdapConfigError('ldap.ca_file', 'holds no PEM certificate');
      this.ca = pem;
    }

    try {
      FilterParser.parseString(userFilter(cfg.user_filter, 'x'));
    } catch (err) {
      throw new LdapConfigError('ldap.user_filter', `not a valid LDAP filter (${(err as Error).message})`);
    }
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(cfg.group_attribute)) {
      throw new LdapConfigError('ldap.group_attribute', 'not an attribute name');
    }
    this.userAttribute = userAttributeOf(cfg.user_filter);
    this.attributes = this.userAttribute === null ? [cfg.group_attribute] : [this.userAttribute, cfg.group_attribute];
    this.ms = Math.round(cfg.timeout * 1000);
  }

  async verify(user: string, password: string): Promise<LdapResult> {
    if (password === '') return fail('wrong-password', 'empty password (no bind attempted)');
    const found = await this.find(user);
    if ('reason' in found) return this.told(found);
    const bound = await this.bindUser(found.entry.dn, password, found.index);
    return bound === null ? this.known(user, found.entry) : this.told(bound);
  }

  /**
   * The search a verify starts with, and no bind: a second bind with a wrong password would
   * count against the user's lockout in the directory. A wrong password's second verify also
   * opens a connection and binds (a round trip or two more).
   */
  async spend(user: string): Promise<void> {
    await this.lookup(user); // a failure is a result here, never a rejection
  }

  /** The entry user_filter finds, without a bind as the user (service identity only). */
  async lookup(user: string): Promise<LdapResult> {
    const found = await this.find(user);
    return 'reason' in found ? this.told(found) : this.known(user, found.entry);
  }

  /** A directory that did not answer is reported with why (the decision only says directory-unavailable). */
  private told(r: LdapFailure): LdapResult {
    if (r.reason === 'directory-unavailable') this.onUnavailable(r.detail);
    return r;
  }

  /** The one entry of `user`, and the server that found it. */
  private async find(user: string): Promise<{ entry: Entry; index: number } | LdapFailure> {
    if (this.closed) return fail('directory-unavailable', 'authenticator closed');
    const problem = userNameProblem(user);
    if (problem !== null) return fail('unknown-user', problem);
    const found = await this.search(userFilter(this.cfg.user_filter, user));
    if ('error' in found) return fail('directory-unavailable', found.error);
    const entries = found.entries;
    if (entries.length === 0) return fail('unknown-user', 'no entry matches');
    const entry = entries[0] as Entry;
    if (entries.length > 1) return fail('unknown-user', `ambiguous: more than one entry matches (${entry.dn}, …)`);
    return { entry, index: found.index };
  }

  /** The directory's spelling of the name (the unique id) and the entry's groups. */
  private known(user: string, entry: Entry): LdapResult {
    const names = this.userAttribute === null ? [] : values(entry, this.userAttribute);
    const lower = user.toLowerCase();
    const id = names.find((n) => n.toLowerCase() === lower) ?? names[0] ?? user;
    return { ok: true, user: id, groups: values(entry, this.cfg.group_attribute) };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    const all = [...this.live];
    this.live.clear();
    await Promise.all(all.map((c) => c.unbind().catch(() => undefined)));
  }

  private target(index: number): Target {
    return this.targets[index] as Target;
  }

  private tls(target: Target): ConnectionOptions {
    return {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      host: target.host,
      // SNI takes a host name only; an IP address is checked against the certificate's IP SANs.
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      ...(this.ca !== undefined ? { ca: [...rootCertificates, this.ca] } : {}),
    };
  }

  /** A connection to targets[index], TLS set up as configured; not bound yet. */
  private async open(index: number): Promise<Client> {
    if (this.closed) throw new Error('authenticator closed');
    const target = this.target(index);
    const client = new Client({
      url: target.url,
      timeout: this.ms,
      connectTimeout: this.ms,
      // Only for ldaps://: ldapts switches to TLS on connect whenever tlsOptions are given.
      ...(target.secure ? { tlsOptions: this.tls(target) } : {}),
    });
    this.live.add(client);
    if (this.cfg.starttls && !target.secure) {
      try {
        // ldapts times the StartTLS request out, not the handshake after it: bound it here.
        await this.within(client.startTLS(this.tls(target)), 'StartTLS handshake timed out');
      } catch (err) {
        void this.discard(client);
        throw err;
      }
    }
    return client;
  }

  private async within<T>(p: Promise<T>, message: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), this.ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async discard(client: Client): Promise<void> {
    this.live.delete(client);
    await client.unbind().catch(() => undefined);
  }

  /** Still connected with the service identity (or, without bind_dn, still connected). */
  private usable(client: Client): boolean {
    return this.bindDn === '' ? client.isConnected : client.isBound;
  }

  private release(client: Client, index: number): void {
    if (this.closed || !this.usable(client) || this.idle.length >= POOL_SIZE) {
      void this.discard(client);
      return;
    }
    this.idle.push({ client, index });
  }

  private async runSearch(client: Client, filter: string): Promise<Entry[]> {
    const { searchEntries } = await client.search(this.cfg.base_dn, {
      scope: 'sub',
      filter,
      sizeLimit: 2,
      timeLimit: Math.ceil(this.cfg.timeout),
      derefAliases: 'never',
      attributes: this.attributes,
    });
    return searchEntries;
  }

  /** Search with a pooled connection, else new ones, URL by URL. */
  private async search(filter: string): Promise<{ entries: Entry[]; index: number } | { error: string }> {
    const failures: string[] = [];
    for (let pooled = this.idle.pop(); pooled !== undefined; pooled = this.idle.pop()) {
      // Checked synchronously before the search: ldapts would silently reconnect a dropped
      // connection without the service bind (and without StartTLS).
      if (!this.usable(pooled.client)) {
        void this.discard(pooled.client);
        continue;
      }
      try {
        const entries = await this.runSearch(pooled.client, filter);
        this.release(pooled.client, pooled.index);
        return { entries, index: pooled.index };
      } catch (err) {
        void this.discard(pooled.client);
        failures.push(`pooled ${this.target(pooled.index).url}: ${describe(err)}`);
      }
    }
    for (let index = 0; index < this.targets.length; index++) {
      let client: Client | undefined;
      try {
        client = await this.open(index);
        if (this.bindDn !== '') await client.bind(this.bindDn, this.bindPassword);
        const entries = await this.runSearch(client, filter);
        this.release(client, index);
        return { entries, index };
      } catch (err) {
        if (client !== undefined) void this.discard(client);
        failures.push(`${this.target(index).url}: ${describe(err)}`);
      }
    }
    return { error: failures.join('; ') };
  }

  /** Bind as `dn`; null on success, else the failure. Starts with the server that found the entry. */
  private async bindUser(dn: string, password: string, first: number): Promise<LdapFailure | null> {
    const order = [first, ...this.targets.keys()].filter((i, pos, all) => all.indexOf(i) === pos);
    const failures: string[] = [];
    for (const index of order) {
      let client: Client | undefined;
      try {
        client = await this.open(index);
        await client.bind(dn, password);
        return null;
      } catch (err) {
        // The server answered: the credentials are refused (49 invalidCredentials, or e.g. a
        // password policy's refusal). Another replica would say the same.
        if (err instanceof ResultCodeError) return fail('wrong-password', `bind refused: ${describe(err)}`);
        failures.push(`${this.target(index).url}: ${describe(err)}`);
      } finally {
        if (client !== undefined) void this.discard(client);
      }
    }
    return fail('directory-unavailable', `user bind: ${failures.join('; ')}`);
  }
}
