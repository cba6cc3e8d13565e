/**
 * Wiring: builds the store, hashers, primaries, pipeline, handler and sockets from a Config,
 * and gives back a running server that can reload (SIGHUP) and stop (SIGTERM/SIGINT).
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type winston from 'winston';
import { checkAuditWritable, createAuditLog, type AuditLog } from '../audit/audit-log.js';
import type { AuditSink, DropReason } from '../audit/event.js';
import { setLevel, writes } from '../audit/logger.js';
import { Metrics, startMetricsServer, type MetricsServer } from '../audit/metrics.js';
import type { LdapAuthenticator } from '../auth/ldap.js';
import { LocalPrimary } from '../auth/local.js';
import { createArgon2Hasher } from '../auth/passwords.js';
import { Pipeline } from '../auth/pipeline.js';
import type { PrimaryAuthenticator } from '../auth/primary.js';
import type { ConfigError } from '../config/errors.js';
import { configErrorAt, lineOf } from '../config/load.js';
import { formatKey, type KeyPath } from '../config/locate.js';
import { parseListen, type Config } from '../config/schema.js';
import { PROBLEM_TEXT, type AccessRequestProblem } from '../radius/request.js';
import { foreignSecrets, openStore } from '../store/open.js';
import { startCheckpointer, type Checkpointer } from '../store/sqlite/checkpointer.js';
import type { SqliteStore } from '../store/sqlite/open.js';
import { ClientTable, clientDefaults } from './clients.js';
import { DuplicateCache } from './dedup.js';
import { RateLimitedLog } from './drop-log.js';
import { RequestHandler, type Peer } from './handler.js';
import { buildReplyAttributes, type ReplyAttributes } from './reply-attributes.js';
import { UdpServer, type BindError, type BoundSocket } from './udp.js';

export interface ServerOptions {
  logger: winston.Logger;
  /** The config file, for naming lines in start-up errors. */
  configFile: string;
  /** Replaces the audit log from config (tests). */
  audit?: AuditSink;
  now?: () => number;
  random?: (n: number) => Buffer;
  /** The checkpoint thread puts itself under SCHED_IDLE (sched/idle-policy.ts): `serve` asks for it. */
  idlePolicy?: boolean;
  /** How long stop() waits for decisions under way (tests; default DRAIN_MS). */
  drainMs?: number;
  /**
   * The server cannot go on (the store's WAL could not be synced: no Accept can be made durable
   * any more); serve stops it and exits 1. Without it the server answers on, every Accept
   * turned into an internal-error Reject.
   */
  onFatal?: (err: Error) => void;
}

export interface RunningServer {
  sockets: BoundSocket[];
  store: SqliteStore;
  /** The store's checkpoint thread (store/sqlite/checkpointer.ts). */
  checkpointer: Checkpointer;
  metrics: Metrics;
  metricsPort: number | null;
  /** Applies clients, log settings and reply rules of a new config; throws (keeping the old) if they are invalid. */
  reload(config: Config): void;
  stop(): Promise<void>;
}

const DRAIN_MS = 5000;

export async function startServer(initial: Config, opts: ServerOptions): Promise<RunningServer> {
  const { logger } = opts;
  let config = initial;
  const now = opts.now ?? (() => Date.now() / 1000);
  const metrics = new Metrics({ processMetrics: true });
  let replies: ReplyAttributes = buildReplyAttributes(config, opts.configFile);
  const store = openStore(
    config,
    (serial) => logger.error('token secret failed authentication: token refused', { serial }),
    (notice) => logger.warn(notice),
  );
  /** What was opened, in order; closed in reverse on stop or on a failed start. */
  const closers: Array<() => Promise<void> | void> = [() => store.close()];
  // better-sqlite3 builds SQLite with a 16 MB page cache per connection. The server reads tokens
  // from its mirror (store/sqlite/token-mirror.ts) and only writes their rows, so 4 MB does as
  // well (in-process, alternated: 12.4/12.6 µs a request with 16 MB, 12.6/11.8 with 4) and keeps
  // the server 12 MB smaller once the cache would have filled.
  store.db.pragma('cache_size = -4000');
  metrics.tokenMirror(() => store.tokens.mirrorStats());
  // store.synchronous = "full" (wal-sync.ts): a failed sync is final. Stopping lets the NAS fail
  // over to another server rather than be refused by this one (RFC 2865 §2.4).
  store.tokens.onDurabilityLost((err) => {
    logger.error('store: the WAL could not be synced; no Access-Accept can be made durable: the server stops', { error: err.message });
    opts.onFatal?.(err);
  });
  const checkpointer = startCheckpointer(store.db, {
    idlePolicy: opts.idlePolicy ?? false,
    onError: (err) => logger.error('store: the checkpoint thread stopped; the server checkpoints the WAL itself again', { error: err.message }),
  });
  closers.push(() => checkpointer.stop());
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close();
  };
  try {
    // RELIABILITY: secrets sealed under another master key would all fail closed, one request at
    // a time; the server does not start on a key that cannot open its store.
    const foreign = store.tokens.sealedByOtherKeys();
    if (foreign > 0) {
      throw configErrorAt(opts.configFile, ['store', 'key_file'], foreignSecrets(config.store.path, foreign));
    }
    const hasher = await createArgon2Hasher(config.server.hash_threads);
    closers.push(() => hasher.close());
    const primaries: { local: PrimaryAuthenticator; ldap?: LdapAuthenticator } = { local: new LocalPrimary(store.users, hasher) };
    if (config.ldap.urls.length > 0) {
      // Why the directory did not answer (refused, TLS, service bind) is the on-call engineer's
      // first question: at warn, once a second at most (the decisions say directory-unavailable).
      const unavailable = new RateLimitedLog<string>(1, (detail, suppressed) => logger.warn('directory unavailable', { detail, ...(suppressed > 0 ? { suppressed } : {}) }));
      const ldap = await newLdap(config, opts.configFile, (detail) => unavailable.log('', 'unavailable', detail));
      primaries.ldap = ldap;
      closers.push(() => ldap.close());
    }
    const auditLog: AuditLog | null = opts.audit ? null : openAuditLog(config, opts.configFile, metrics);
    const audit: AuditSink = opts.audit ?? (auditLog as AuditLog);
    closers.push(() => audit.close());
    // Each decision is also one line of the operational log on stderr, at info (level = "warn"
    // turns it off on busy servers); drops are logged, rate-limited, by dropLog below.
    const decisions: Pick<AuditSink, 'record'> = {
      record(event) {
        audit.record(event);
        if (event.event === 'decision' && writes(logger, 'info')) logger.info('decision', event);
      },
    };

    // RELIABILITY B8: auto decisions do not outlive the process; the rows only show the live ones.
    // (Before the pipeline turns group commits on: this write is committed when it returns.)
    store.clientMa.retain(config.server.name, []);
    // And a clean stop forgets them (closers run in reverse: after the sockets, before the store).
    closers.push(() => {
      try {
        store.clientMa.retain(config.server.name, []);
      } catch {
        // A store that failed (or is busy) keeps the rows: the next start clears them.
      }
    });
    const pipeline = new Pipeline({
      users: store.users,
      tokens: store.tokens,
      challenges: store.challenges,
      appPasswords: store.appPasswords,
      primaries,
      policy: policyOf(config),
      now,
      random: opts.random ?? randomBytes,
    });
    let clients = new ClientTable(config.client, clientDefaults(config));
    const dedup = new DuplicateCache(config.server.duplicate_cache_seconds * 1000);
    // Rate-limited per source (drop-log.ts): a client name, or '' for unknown addresses, so the
    // sources come from the config, and quiet ones are forgotten each second (nothing to do on a
    // reload). The audit line carries the same `suppressed` count as the stderr line: the audit
    // file adds up to every drop the metrics count.
    const dropLog = new RateLimitedLog<{ reason: DropReason; peer: Peer; client: string; time: number }>(config.log.drop_log_per_second, (d, suppressed) => {
      const left = suppressed > 0 ? { suppressed } : {};
      logger.warn('dropped packet', { reason: d.reason, client_ip: d.peer.address, client: d.client, ...left });
      audit.record({
        event: 'drop',
        time: new Date(d.time * 1000).toISOString(),
        server: config.server.name,
        server_ip: d.peer.localAddress,
        client: d.client,
        client_ip: d.peer.address,
        reason: d.reason,
        ...left,
      });
    });
    // A request rejected as malformed is decided (audit reason bad-request); this line says what
    // was wrong with it, at the same rate limit as drops.
    const badRequestLog = new RateLimitedLog<{ problem: AccessRequestProblem; peer: Peer; client: string }>(config.log.drop_log_per_second, (d, suppressed) => {
      logger.warn('malformed request rejected', { problem: d.problem, detail: PROBLEM_TEXT[d.problem], client_ip: d.peer.address, client: d.client, ...(suppressed > 0 ? { suppressed } : {}) });
    });
    const handler = new RequestHandler({
      clients: () => clients,
      dedup,
      decider: pipeline,
      replyAttributes: (user, groups) => replies.for(user, groups),
      audit: decisions,
      metrics,
      onDrop: (reason, peer, client) => dropLog.log(client, reason, { reason, peer, client, time: now() }),
      onBadRequest: (problem, peer, client) => badRequestLog.log(client, problem, { problem, peer, client }),
      onMaDecided: (client, peer) => {
        const ma = client.ma as 'yes' | 'no';
        store.clientMa.record(config.server.name, client.name, ma, Math.floor(now()));
        // "no" is a client left open to BlastRADIUS: said at warn, with what to do about it.
        if (ma === 'no') logger.warn('require_message_authenticator auto: no (the first request had no Message-Authenticator); set it to true once the client sends one', { client: client.name, client_ip: peer.address });
        else logger.info('require_message_authenticator auto: yes (the first request had a Message-Authenticator)', { client: client.name, client_ip: peer.address });
      },
      onError: (err) => logger.error('decision failed: request rejected', { error: (err as Error).message }),
      server: { get name() { return config.server.name; } },
      limits: { maxPending: config.server.max_pending, maxPendingPerClient: config.server.max_pending_per_client },
      now: () => now() * 1000,
    });
    // The token mirror loads before the first request is taken (store/sqlite/token-mirror.ts).
    const loadStarted = performance.now();
    await store.tokens.mirrorLoaded();
    logger.info('token mirror loaded', { ...store.tokens.mirrorStats(), ms: Math.round(performance.now() - loadStarted) });
    const udp = new UdpServer(() => handler, (err) => logger.warn('socket error', { error: err.message }));
    const sockets = await udp.listen(config.server.listen).catch((err: BindError) => {
      throw bindError(opts.configFile, ['server', 'listen', err.index], err.listen, err.error);
    });
    closers.push(async () => {
      // Decisions already under way finish, are answered and audited before the store and log close;
      // those still under way after the drain are dropped, unanswered and unaudited, as one line.
      udp.stopReceiving();
      const drainMs = opts.drainMs ?? DRAIN_MS;
      const deadline = Date.now() + drainMs;
      while (handler.pendingCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const dropped = handler.abandon();
      if (dropped > 0) logger.warn('stopping: requests still being decided were dropped, unanswered', { dropped, drain_ms: drainMs });
      if (handler.pendingCount > 0) {
        // Their password checks stop here, hashes and directory binds, before the audit log
        // closes: none ends later and goes on to use a code or count a failure for a request that
        // is neither answered nor audited (a bind cut short fails closed, ldap.ts). Requests
        // decided and audited that wait to be answered (Decision answerAfter) end their wait and
        // are answered before the sockets close.
        await Promise.all([hasher.close(), primaries.ldap?.close()]);
        for (let turns = 0; handler.pendingCount > 0 && turns < 100; turns++) await new Promise((r) => setImmediate(r));
      }
      await udp.close();
      // What the drop logs left out, before the audit log closes.
      dropLog.flush(true);
      badRequestLog.flush(true);
    });

    let metricsServer: MetricsServer | null = null;
    if (config.metrics.listen !== '') {
      metricsServer = await startMetricsServer(parseListen(config.metrics.listen) as { host: string; port: number }, metrics).catch((err: NodeJS.ErrnoException) => {
        throw bindError(opts.configFile, ['metrics', 'listen'], config.metrics.listen, err);
      });
      closers.push(() => metricsServer?.close());
    }

    const timers = [
      setInterval(() => dedup.sweep(), 1000),
      setInterval(() => {
        dropLog.flush();
        badRequestLog.flush();
      }, 1000),
      setInterval(() => store.challenges.purgeExpired(Math.floor(now())), 60_000),
    ];
    for (const t of timers) t.unref();

    warnConfig(config, opts.configFile, logger);
    logger.info('listening', { sockets: sockets.map((s) => `${s.address}:${s.port}`), clients: clients.size });
    return {
      sockets,
      store,
      checkpointer,
      metrics,
      metricsPort: metricsServer?.port ?? null,
      reload(next: Config) {
        // [ldap] is applied at start only. A reload whose clients would use a changed one (say,
        // primary switched to "ldap" with a new [ldap]) would reject everyone: it is refused whole.
        const restart = restartOnly(config, next);
        const usesLdap = next.auth.primary === 'ldap' || next.client.some((c) => c.primary === 'ldap');
        if (usesLdap && restart.includes('ldap')) {
          throw configErrorAt(opts.configFile, ['ldap'], 'changed: restart to apply (primary "ldap" would use it, so the reload is refused)');
        }
        const nextReplies = buildReplyAttributes(next, opts.configFile);
        clients = new ClientTable(next.client, clientDefaults(next), clients);
        store.clientMa.retain(next.server.name, clients.decided);
        replies = nextReplies;
        setLevel(logger, next.log.level);
        auditLog?.reopen();
        dropLog.setRate(next.log.drop_log_per_second);
        badRequestLog.setRate(next.log.drop_log_per_second);
        pipeline.setPolicy(policyOf(next));
        for (const key of restart) logger.warn(`${key} changed: restart to apply`);
        warnConfig(next, opts.configFile, logger);
        config = next;
        logger.info('reloaded', { clients: clients.size });
      },
      async stop() {
        for (const t of timers) clearInterval(t);
        await closeAll();
        logger.info('stopped');
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * The audit log, once its directory and today's file are known to be writable: a server that
 * cannot keep its audit trail does not start (rather than report the fault once a second).
 */
function openAuditLog(config: Config, configFile: string, metrics: Metrics): AuditLog {
  try {
    checkAuditWritable(config.log.audit);
  } catch (err) {
    throw configErrorAt(configFile, ['log', 'audit'], `${config.log.audit} cannot be written (${(err as NodeJS.ErrnoException).code})`);
  }
  // A later write fault is reported as one JSON line on stderr by the audit log itself (at most
  // one a second, with the lines lost since the last), and the lines it lost are counted.
  return createAuditLog({ file: config.log.audit, retentionDays: config.log.audit_retention_days, onLost: (lines) => metrics.auditLinesLost(lines) });
}

const BIND_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (EADDRINUSE)',
  EADDRNOTAVAIL: 'not an address of this host (EADDRNOTAVAIL)',
  EACCES: 'permission denied (EACCES)',
};

/** An address the server could not listen on, as a ConfigError naming its key and line. */
function bindError(configFile: string, path: KeyPath, listen: string, err: NodeJS.ErrnoException): ConfigError {
  return configErrorAt(configFile, path, `cannot bind ${listen}: ${BIND_REASONS[err.code as string] ?? err.message}`);
}

/**
 * What works but is likely a mistake, logged at start and on every reload (never the secret):
 * no client at all, and client secrets shorter than the 16 octets RFC 2865 §3 prefers.
 */
function warnConfig(config: Config, configFile: string, logger: winston.Logger): void {
  // RFC 2865 §3: a request from a client without a shared secret is silently discarded.
  if (config.client.length === 0) logger.warn('no [[client]] configured: every request will be discarded', { file: configFile });
  config.client.forEach((client, i) => {
    if (Buffer.byteLength(client.secret) >= 16) return;
    const path = ['client', i, 'secret'];
    logger.warn('client secret shorter than 16 octets (RFC 2865 §3 prefers at least 16)', { client: client.name, setting: formatKey(path), file: configFile, line: lineOf(configFile, path) });
  });
  // Files with secrets that others may read (the key file is refused outright, store/seal.ts):
  // the config (client secrets, bind_password), the LDAP password file, the database (password
  // hashes and sealed secrets; a restored copy may come back 0644).
  const files: Array<[string, string]> = [
    [configFile, 'the config file holds client secrets'],
    [config.ldap.bind_password_file, 'ldap.bind_password_file'],
    [config.store.path, 'the store holds password hashes and sealed token secrets'],
  ];
  for (const [file, what] of files) {
    const mode = file === '' ? undefined : statSync(file, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o004) !== 0) logger.warn(`${file} is readable by every user (${what}): chmod o-r`, { file, mode: (mode & 0o777).toString(8) });
  }
}

/** Loaded only when [ldap] is configured: ldapts is not needed otherwise. */
async function newLdap(config: Config, configFile: string, onUnavailable: (detail: string) => void): Promise<LdapAuthenticator> {
  const { LdapAuthenticator, LdapConfigError } = await import('../auth/ldap.js');
  try {
    return new LdapAuthenticator(config.ldap, { onUnavailable });
  } catch (err) {
    /* c8 ignore next -- the constructor throws only LdapConfigError */
    if (!(err instanceof LdapConfigError)) throw err;
    throw configErrorAt(configFile, err.key.split('.'), err.reason);
  }
}

/**
 * What SIGHUP does not apply (the rest — clients, [auth], [otp], [log] level and rate, reply rules
 * and dictionaries — it does): the keys of these that changed, for a warning each.
 */
export function restartOnly(prev: Config, next: Config): string[] {
  const parts: Array<[string, unknown, unknown]> = [
    ...Object.keys(next.server)
      // Applied: the handler reads the name through config; the clients are rebuilt with the default.
      .filter((k) => k !== 'name' && k !== 'require_message_authenticator')
      .map((k): [string, unknown, unknown] => [`server.${k}`, prev.server[k as keyof Config['server']], next.server[k as keyof Config['server']]]),
    ['store', prev.store, next.store],
    ['log.audit', prev.log.audit, next.log.audit],
    ['log.audit_retention_days', prev.log.audit_retention_days, next.log.audit_retention_days],
    ['metrics', prev.metrics, next.metrics],
    ['ldap', prev.ldap, next.ldap],
  ];
  return parts.filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b)).map(([key]) => key);
}

function policyOf(config: Config): ConstructorParameters<typeof Pipeline>[0]['policy'] {
  return {
    usersWithoutToken: config.auth.users_without_token,
    challengeTimeout: config.auth.challenge_timeout,
    challengeMessage: config.auth.challenge_message,
    otp: {
      window: config.otp.window,
      hotpLookAhead: config.otp.hotp_look_ahead,
      maxFailures: config.otp.max_failures,
      unlockAfter: config.otp.unlock_after,
    },
  };
}
