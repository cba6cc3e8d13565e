/**
 * The one configuration schema: every key, its type, bounds and default.
 * radius.conf.example documents the same keys; test/config/example.test.ts keeps them in step.
 */
import { z } from 'zod';
import { isIP } from 'node:net';

const listenAddress = z.string().refine(
  (s) => parseListen(s) !== null,
  'must be "IPv4:port" or "[IPv6]:port" with a port from 0 to 65535',
);

/** "127.0.0.1:1812" or "[::1]:1812" → host and port; null when malformed. */
export function parseListen(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) !== 4) return null;
  return { host, port };
}

const cidr = z.string().refine((s) => {
  const [ip, bits, ...rest] = s.split('/');
  if (rest.length > 0 || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}, 'must be an IP address or CIDR such as "10.0.0.0/8" or "2001:db8::/32"');

const primary = z.enum(['local', 'ldap', 'none']);

/**
 * RELIABILITY B1: a client's Message-Authenticator policy, "yes", "no" or "auto" (B8: the client's
 * first Access-Request decides). true and false (SPEC's form) are yes and no.
 */
const maPolicy = z
  .union([z.boolean(), z.enum(['yes', 'no', 'auto'])], { error: 'must be true, false, "yes", "no" or "auto"' })
  .transform((v) => (v === true ? 'yes' : v === false ? 'no' : v));

export const serverSchema = z
  .strictObject({
    name: z.string().min(1).max(64).default('radius-otp-1'),
    listen: z.array(listenAddress).min(1).default(['127.0.0.1:1812']),
    /** RFC 5080 §2.2.2: how long a reply is kept for retransmissions. */
    // RELIABILITY R6: entries are kept 5 to 30 s (FreeRADIUS cleanup_delay = 5). The cache holds every
    // reply of that time: at 22,000/s and 30 s, ~660,000 entries, ~80 MB (~130 B an entry measured).
    duplicate_cache_seconds: z.number().int().min(5).max(30).default(30),
    /** Requests being decided at once, server-wide; more are dropped (RELIABILITY R10). */
    max_pending: z.number().int().min(1).max(1_000_000).default(4096),
    /** Requests being decided at once per client. */
    max_pending_per_client: z.number().int().min(1).max(1_000_000).default(1024),
    /** Threads that hash passwords (argon2id) off the event loop; 0 = number of cores. */
    hash_threads: z.number().int().min(0).max(64).default(0),
    /** The default of every [[client]]'s require_message_authenticator (BlastRADIUS, CVE-2024-3596). */
    require_message_authenticator: maPolicy.default('yes'),
  })
  .prefault({});

export const storeSchema = z
  .strictObject({
    path: z.string().min(1).default('data/radius-otp.db'),
    key_file: z.string().min(1).default('data/master.key'),
    /** "full": an accepted code is on disk before its Access-Accept (power loss); "normal": kill -9, and the checkpoints' syncs. */
    synchronous: z.enum(['full', 'normal']).default('normal'),
  })
  .prefault({});

export const clientSchema = z.strictObject({
  name: z.string().min(1).max(64),
  address: cidr,
  secret: z.string().min(1).max(128),
  /** Unset: [server] require_message_authenticator. */
  require_message_authenticator: maPolicy.optional(),
  primary: primary.optional(),
});

export const authSchema = z
  .strictObject({
    primary: primary.default('local'),
    users_without_token: z.enum(['reject', 'password-only']).default('reject'),
    challenge_timeout: z.number().int().min(10).max(3600).default(300),
    challenge_message: z.string().min(1).max(200).default('Enter your one-time code'),
  })
  .prefault({});

export const otpSchema = z
  .strictObject({
    window: z.number().int().min(0).max(10).default(1),
    hotp_look_ahead: z.number().int().min(0).max(100).default(10),
    max_failures: z.number().int().min(1).max(1000).default(10),
    /** Seconds after which a locked token unlocks by itself; 0 = only `token unlock`. */
    unlock_after: z.number().int().min(0).max(31_536_000).default(0),
    /** Issuer shown by authenticator apps for enrolled tokens. */
    issuer: z.string().min(1).max(64).default('radius-otp'),
  })
  .prefault({});

export const logSchema = z
  .strictObject({
    level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    audit: z.string().default('data/audit.log'),
    /** Days of rotated audit files to keep; 0 keeps them all. */
    audit_retention_days: z.number().int().min(0).max(3650).default(90),
    /** Dropped-packet log lines per second, at most (the counter still counts them all). */
    drop_log_per_second: z.number().int().min(1).max(10_000).default(10),
  })
  .prefault({});

export const metricsSchema = z
  .strictObject({
    /** "127.0.0.1:9812" serves Prometheus text at /metrics; empty = off. */
    listen: z.union([z.literal(''), listenAddress]).default(''),
  })
  .prefault({});

export const ldapSchema = z
  .strictObject({
    urls: z.array(z.string().regex(/^ldaps?:\/\/[^\s]+$/, 'must be an ldap:// or ldaps:// URL')).default([]),
    bind_dn: z.string().default(''),
    bind_password: z.string().default(''),
    bind_password_file: z.string().default(''),
    base_dn: z.string().default(''),
    user_filter: z.string().includes('{user}', { message: 'must contain {user}' }).default('(sAMAccountName={user})'),
    group_attribute: z.string().min(1).default('memberOf'),
    starttls: z.boolean().default(false),
    ca_file: z.string().default(''),
    timeout: z.number().min(0.1).max(120).default(5),
  })
  .prefault({});

const attrValue = z.union([z.string(), z.number().int(), z.array(z.union([z.string(), z.number().int()]))]);

export const replyRuleSchema = z
  .strictObject({
    group: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    attributes: z.record(z.string(), attrValue),
  })
  .refine((r) => (r.group === undefined) !== (r.user === undefined), 'needs exactly one of "group" or "user"');

export const configSchema = z.strictObject({
  server: serverSchema,
  store: storeSchema,
  client: z.array(clientSchema).default([]),
  auth: authSchema,
  otp: otpSchema,
  log: logSchema,
  metrics: metricsSchema,
  ldap: ldapSchema,
  /** Reply attribute rules; every matching rule applies, in file order. */
  reply: z.array(replyRuleSchema).default([]),
  /** Extra RADIUS dictionary files (FreeRADIUS format) for vendor attributes in [[reply]]. */
  dictionaries: z.array(z.string()).default([]),
});

export type Config = z.infer<typeof configSchema>;
export type ClientConfig = z.infer<typeof clientSchema>;
export type ReplyRule = z.infer<typeof replyRuleSchema>;
export type PrimaryKind = z.infer<typeof primary>;
export type MaPolicy = z.infer<typeof maPolicy>;
