/**
 * Prometheus metrics, in a Registry of their own (never prom-client's global one, so two servers
 * in one process — tests — do not collide). The methods are on the hot path (20,000+ requests/s):
 * a prom-client inc() hashes its labels on every call, so requests, decisions and drops are
 * counted in plain arrays indexed by code / result×reason×mode / reason, and handed to
 * prom-client when it is scraped (its collect() hook); the pending gauge is read then too.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DENIAL_REASONS, DROP_REASONS } from './event.js';
import { collectProcessMetrics } from './process-metrics.js';
import type { AuthMode, DecisionResult, DenialReason, DropReason } from './event.js';
import type { TokenMirrorStats } from '../store/types.js';

const MODES: readonly AuthMode[] = ['password+otp', 'challenge', 'otp', 'app-password', 'password', 'unknown'];
const RESULTS: readonly DecisionResult[] = ['accept', 'reject', 'challenge'];
/** Index 0 is "no reason" (accept, challenge); reason i is DENIAL_REASONS[i − 1]. */
const REASONS: readonly (DenialReason | '')[] = ['', ...DENIAL_REASONS];

const indexOf = <T>(values: readonly T[]): Map<T, number> => new Map(values.map((v, i) => [v, i]));
const MODE_INDEX = indexOf(MODES);
const RESULT_INDEX = indexOf(RESULTS);
const REASON_INDEX = indexOf(REASONS);
const DROP_INDEX = indexOf<DropReason>(DROP_REASONS);

export interface MetricsOptions {
  /** Also export process_* and nodejs_* metrics (CPU, memory, event loop lag; process-metrics.ts). Default false. */
  processMetrics?: boolean;
}

/**
 * Counts kept in a Float64Array and reported to a prom-client counter as increments when scraped.
 * `labels(i)` gives the label values of slot i; `always(labels)` says which series appear even
 * at 0 (the ones a dashboard expects from the start).
 */
class CountArray {
  readonly counts: Float64Array;
  private readonly reported: Float64Array;

  constructor(
    size: number,
    private readonly labels: (i: number) => string[],
    private readonly always: (labels: readonly string[]) => boolean,
  ) {
    this.counts = new Float64Array(size);
    this.reported = new Float64Array(size);
  }

  /** Hands the increments since the last scrape to `counter`. */
  flush(counter: Counter<string>): void {
    for (let i = 0; i < this.counts.length; i++) {
      const delta = (this.counts[i] as number) - (this.reported[i] as number);
      const labels = this.labels(i);
      if (delta === 0 && !this.always(labels)) continue;
      counter.labels(...labels).inc(delta);
      this.reported[i] = this.counts[i] as number;
    }
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly seconds: Histogram;
  // The series a dashboard expects from the start appear at 0: Access-Request and
  // Status-Server, every drop reason, and every result/reason/mode pair that can happen.
  /** RADIUS codes 0–255. */
  private readonly requestCounts = new CountArray(256, (i) => [String(i)], ([code]) => code === '1' || code === '12');
  private readonly decisionCounts = new CountArray(
    RESULTS.length * REASONS.length * MODES.length,
    (i) => {
      const mode = MODES[i % MODES.length] as AuthMode;
      const reason = REASONS[Math.floor(i / MODES.length) % REASONS.length] as DenialReason | '';
      const result = RESULTS[Math.floor(i / (MODES.length * REASONS.length))] as DecisionResult;
      return [result, reason, mode];
    },
    // A reject always has a reason, and accept/challenge never have one.
    ([result, reason]) => (result === 'reject') === (reason !== ''),
  );
  private readonly dropCounts = new CountArray(DROP_REASONS.length, (i) => [DROP_REASONS[i] as DropReason], () => true);
  private pendingNow = 0;
  private readonly auditLost: Counter;
  private mirror: () => TokenMirrorStats | null = () => null;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const requests = this.requestCounts;
    const decisions = this.decisionCounts;
    const drops = this.dropCounts;
    new Counter({
      name: 'radius_requests_total',
      help: 'RADIUS packets received, by code',
      labelNames: ['code'],
      registers,
      collect() {
        requests.flush(this);
      },
    });
    new Counter({
      name: 'radius_decisions_total',
      help: 'Authentication decisions, by result, denial reason and mode',
      labelNames: ['result', 'reason', 'mode'],
      registers,
      collect() {
        decisions.flush(this);
      },
    });
    new Counter({
      name: 'radius_drops_total',
      help: 'Datagrams dropped without an answer, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        drops.flush(this);
      },
    });
    this.seconds = new Histogram({
      name: 'radius_decision_seconds',
      help: 'Time from a request to its decision',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const pending = () => this.pendingNow;
    new Gauge({
      name: 'radius_pending_requests',
      help: 'Requests being decided now',
      registers,
      collect() {
        this.set(pending());
      },
    });
    // The token mirror (store/sqlite/token-mirror.ts): a drops count that keeps rising means
    // something else writes to the store all the time (another server on it), and requests read
    // the store instead.
    const mirror = () => this.mirror();
    new Gauge({
      name: 'radius_token_mirror_users',
      help: 'Users whose tokens the server holds in memory',
      registers,
      collect() {
        this.set(mirror()?.users ?? 0);
      },
    });
    new Gauge({
      name: 'radius_token_mirror_tokens',
      help: 'Tokens the server holds in memory',
      registers,
      collect() {
        this.set(mirror()?.tokens ?? 0);
      },
    });
    let dropsReported = 0;
    new Counter({
      name: 'radius_token_mirror_drops_total',
      help: 'Times the server dropped its in-memory copy of the tokens (another connection wrote to the store, an administrative write, a failed commit)',
      registers,
      collect() {
        const drops = mirror()?.clears ?? dropsReported;
        this.inc(drops - dropsReported);
        dropsReported = drops;
      },
    });
    // Audit lines the file did not take (audit-log.ts: disk full, a write fault, a file that
    // cannot be opened): the server answered those requests, but their record is gone. Alert on
    // any increase. No labels: inc() is cheap, and called on faults only.
    this.auditLost = new Counter({
      name: 'radius_audit_lines_lost_total',
      help: 'Audit lines that could not be written to the audit file (disk full, write fault, file that cannot be opened)',
      registers,
    });
    if (opts.processMetrics === true) collectProcessMetrics(this.registry);
  }

  /** Where the token mirror's figures come from (the server's store). */
  tokenMirror(stats: () => TokenMirrorStats | null): void {
    this.mirror = stats;
  }

  /** A packet arrived with this RADIUS code (RFC 2865 §3). */
  request(code: number): void {
    (this.requestCounts.counts[code & 0xff] as number)++;
  }

  /** A decision was made, `seconds` after its request arrived. */
  decision(result: DecisionResult, reason: DenialReason | undefined, mode: AuthMode, seconds: number): void {
    const r = RESULT_INDEX.get(result) as number;
    const why = REASON_INDEX.get(reason ?? '') as number;
    const m = MODE_INDEX.get(mode) as number;
    (this.decisionCounts.counts[(r * REASONS.length + why) * MODES.length + m] as number)++;
    this.seconds.observe(seconds);
  }

  drop(reason: DropReason): void {
    (this.dropCounts.counts[DROP_INDEX.get(reason) as number] as number)++;
  }

  /** Audit lines that could not be written. */
  auditLinesLost(lines: number): void {
    this.auditLost.inc(lines);
  }

  /** Requests being decided at this moment. */
  pending(n: number): void {
    this.pendingNow = n;
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format); anything else is 404. */
export function startMetricsServer(listen: { host: string; port: number }, metrics: Metrics): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = String(req.url).split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
