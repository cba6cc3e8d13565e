/**
 * Prometheus metrics, in a Registry of their own (never prom-client's global one, so two servers
 * in one process — tests — do not collide). The methods are on the hot path (20,000+ requests/s):
 * each labelled child is created once and kept, so a call is a Map lookup and an increment.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DENIAL_REASONS, DROP_REASONS } from './event.js';
import type { AuthMode, DecisionResult, DenialReason, DropReason } from './event.js';

interface Inc {
  inc(value?: number): void;
}

const MODES: readonly AuthMode[] = ['password+otp', 'challenge', 'otp', 'app-password', 'password', 'unknown'];
const RESULTS: readonly DecisionResult[] = ['accept', 'reject', 'challenge'];

export interface MetricsOptions {
  /** Also export process_* and nodejs_* metrics (CPU, memory, event loop lag). Default false. */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'code'>;
  private readonly decisions: Counter<'result' | 'reason' | 'mode'>;
  private readonly drops: Counter<'reason'>;
  private readonly seconds: Histogram;
  private readonly pendingGauge: Gauge;
  private readonly requestChildren: Array<Inc | undefined> = [];
  private readonly decisionChildren = new Map<string, Inc>();
  private readonly dropChildren = new Map<string, Inc>();

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'radius_requests_total', help: 'RADIUS packets received, by code', labelNames: ['code'], registers });
    this.decisions = new Counter({
      name: 'radius_decisions_total',
      help: 'Authentication decisions, by result, denial reason and mode',
      labelNames: ['result', 'reason', 'mode'],
      registers,
    });
    this.drops = new Counter({ name: 'radius_drops_total', help: 'Datagrams dropped without an answer, by reason', labelNames: ['reason'], registers });
    this.seconds = new Histogram({
      name: 'radius_decision_seconds',
      help: 'Time from a request to its decision',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.pendingGauge = new Gauge({ name: 'radius_pending_requests', help: 'Requests being decided now', registers });
    // Pre-create the series a dashboard expects from the start (at 0).
    for (const code of [1, 12]) this.requestChild(code).inc(0);
    for (const reason of DROP_REASONS) this.dropChild(reason).inc(0);
    for (const mode of MODES) {
      for (const result of RESULTS) if (result !== 'reject') this.decisionChild(result, undefined, mode).inc(0);
      for (const reason of DENIAL_REASONS) this.decisionChild('reject', reason, mode).inc(0);
    }
    if (opts.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  private requestChild(code: number): Inc {
    const key = code & 0xff;
    return (this.requestChildren[key] ??= this.requests.labels(String(key)));
  }

  private decisionChild(result: DecisionResult, reason: DenialReason | undefined, mode: AuthMode): Inc {
    const key = `${result}|${reason ?? ''}|${mode}`;
    let child = this.decisionChildren.get(key);
    if (child === undefined) {
      child = this.decisions.labels(result, reason ?? '', mode);
      this.decisionChildren.set(key, child);
    }
    return child;
  }

  private dropChild(reason: DropReason): Inc {
    let child = this.dropChildren.get(reason);
    if (child === undefined) {
      child = this.drops.labels(reason);
      this.dropChildren.set(reason, child);
    }
    return child;
  }

  /** A packet arrived with this RADIUS code (RFC 2865 §3). */
  request(code: number): void {
    this.requestChild(code).inc();
  }

  /** A decision was made, `seconds` after its request arrived. */
  decision(result: DecisionResult, reason: DenialReason | undefined, mode: AuthMode, seconds: number): void {
    this.decisionChild(result, reason, mode).inc();
    this.seconds.observe(seconds);
  }

  drop(reason: DropReason): void {
    this.dropChild(reason).inc();
  }

  /** Requests being decided at this moment. */
  pending(n: number): void {
    this.pendingGauge.set(n);
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
