/**
 * radius.conf (TOML) → a validated, frozen Config. Checked once at start (and on SIGHUP);
 * any fault is a ConfigError naming the key and line, and the server does not start.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { formatKey, locateKey, type KeyPath } from './locate.js';
import { parseNetwork, sameNetwork, type Network } from './networks.js';
import { configSchema, parseListen, type Config } from './schema.js';

/** SPEC: --config, else $RADIUS_OTP_CONFIG, else ./radius.conf. An empty variable counts as unset. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.RADIUS_OTP_CONFIG || 'radius.conf');
}

export function loadConfig(file: string): Config {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('io', file, '', 0, code === 'ENOENT' ? 'file not found' : `cannot be read (${code})`);
  }
  return parseConfig(source, file);
}

export function parseConfig(source: string, file: string): Config {
  let raw: unknown;
  try {
    raw = parse(source);
  } catch (err) {
    /* c8 ignore next -- smol-toml throws only TomlError for bad input */
    if (!(err instanceof TomlError)) throw err;
    throw new ConfigError('syntax', file, '', err.line, err.message.split('\n')[0] as string);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw toConfigError(result.error.issues[0] as z.core.$ZodIssue, source, file);
  const config = result.data;
  checkListen(config, source, file);
  checkClients(config, source, file);
  checkLdap(config, source, file);
  resolvePaths(config, dirname(file));
  return deepFreeze(config);
}

/**
 * A ConfigError for a key found invalid after loading (by the server's start-up checks: reply
 * rules, [ldap]), with its line looked up in the file again.
 */
export function configErrorAt(configFile: string, path: KeyPath, reason: string): ConfigError {
  return new ConfigError('invalid', configFile, formatKey(path), lineOf(configFile, path), reason);
}

/** The line of a key in the config file as it is now; 0 when not found. */
export function lineOf(configFile: string, path: KeyPath): number {
  try {
    return locateKey(readFileSync(configFile, 'utf8'), path);
  } catch {
    // The file is gone or unreadable since it was loaded: the key alone still says where.
    return 0;
  }
}

function toConfigError(issue: z.core.$ZodIssue, source: string, file: string): ConfigError {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const keyPath = [...path, issue.keys[0] as string];
    return new ConfigError('unknown-key', file, formatKey(keyPath), locateKey(source, keyPath), 'unknown key');
  }
  return new ConfigError('invalid', file, formatKey(path), locateKey(source, path), issue.message);
}

/**
 * One address listed twice (however written: "[::1]:1812" and "[0:0:0:0:0:0:0:1]:1812") could not
 * be bound the second time. Port 0 is not a duplicate: each entry gets a port of its own.
 */
const WILDCARDS = [parseNetwork('0.0.0.0'), parseNetwork('::')];

function checkListen(config: Config, source: string, file: string): void {
  const seen: Array<{ network: Network; port: number }> = [];
  config.server.listen.forEach((listen, i) => {
    const { host, port } = parseListen(listen) as { host: string; port: number };
    const network = parseNetwork(host);
    // RFC 2865 §3 / RELIABILITY R10: the reply leaves from the address the request came to, or
    // the NAS drops it. A socket bound to 0.0.0.0 or :: cannot choose (Node has no IP_PKTINFO),
    // and its audit server_ip would be the wildcard.
    if (WILDCARDS.some((w) => sameNetwork(network, w))) {
      const path = ['server', 'listen', i];
      throw new ConfigError('invalid', file, formatKey(path), locateKey(source, path), `${listen}: a wildcard address cannot answer from the address each request came to: list each address of this host`);
    }
    const same = port === 0 ? -1 : seen.findIndex((s) => s.port === port && sameNetwork(s.network, network));
    if (same >= 0) {
      const path = ['server', 'listen', i];
      throw new ConfigError('invalid', file, formatKey(path), locateKey(source, path), `duplicate listen address: the same as server.listen[${same}] (${config.server.listen[same]})`);
    }
    seen.push({ network, port });
  });
}

/** Client names and addresses are unique: a duplicate would make the lookup ambiguous. */
function checkClients(config: Config, source: string, file: string): void {
  const names = new Set<string>();
  const networks: Network[] = [];
  config.client.forEach((c, i) => {
    const network = parseNetwork(c.address);
    const same = networks.findIndex((n) => sameNetwork(n, network));
    const dup = names.has(c.name) ? 'name' : same >= 0 ? 'address' : null;
    if (dup) {
      const path = ['client', i, dup];
      const why = dup === 'name' ? 'duplicate client name' : `duplicate client address: the network of client[${same}] (${config.client[same]?.address})`;
      throw new ConfigError('invalid', file, formatKey(path), locateKey(source, path), why);
    }
    names.add(c.name);
    networks.push(network);
  });
}

/** primary = "ldap" anywhere needs a directory to ask. */
function checkLdap(config: Config, source: string, file: string): void {
  const usesLdap = config.auth.primary === 'ldap' || config.client.some((c) => c.primary === 'ldap');
  if (usesLdap && config.ldap.urls.length === 0) {
    throw new ConfigError('invalid', file, 'ldap.urls', locateKey(source, ['ldap', 'urls']), 'primary = "ldap" needs at least one URL');
  }
}

/** Relative file paths in the config are relative to the config file's directory. */
function resolvePaths(config: Config, base: string): void {
  const abs = (p: string): string => (p === '' || isAbsolute(p) ? p : resolve(base, p));
  config.store.path = abs(config.store.path);
  config.store.key_file = abs(config.store.key_file);
  config.log.audit = abs(config.log.audit);
  config.ldap.bind_password_file = abs(config.ldap.bind_password_file);
  config.ldap.ca_file = abs(config.ldap.ca_file);
  config.dictionaries = config.dictionaries.map(abs);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
