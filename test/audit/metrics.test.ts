import t from 'tap';
import { request } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { Metrics, startMetricsServer } from '../../src/audit/metrics.js';
import { PROCESS_METRICS } from '../../src/audit/process-metrics.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode as number, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('counters, histogram and gauge appear in text()', async (t) => {
  const m = new Metrics();
  m.request(1);
  m.request(1);
  m.request(12);
  m.request(99);
  m.decision('accept', undefined, 'password+otp', 0.002);
  m.decision('reject', 'wrong-code', 'challenge', 0.004);
  m.decision('reject', 'wrong-code', 'challenge', 0.004);
  m.drop('ma-invalid');
  m.pending(7);
  const text = await m.text();
  t.match(text, /radius_requests_total\{code="1"\} 2\n/);
  t.match(text, /radius_requests_total\{code="12"\} 1\n/);
  t.match(text, /radius_requests_total\{code="99"\} 1\n/);
  t.match(text, /radius_decisions_total\{result="accept",reason="",mode="password\+otp"\} 1\n/);
  t.match(text, /radius_decisions_total\{result="reject",reason="wrong-code",mode="challenge"\} 2\n/);
  t.match(text, /radius_decisions_total\{result="reject",reason="locked",mode="otp"\} 0\n/, 'pre-created at 0');
  t.match(text, /radius_drops_total\{reason="ma-invalid"\} 1\n/);
  t.match(text, /radius_drops_total\{reason="unknown-client"\} 0\n/);
  t.match(text, /radius_decision_seconds_bucket\{le="0.0025"\} 1\n/);
  t.match(text, /radius_decision_seconds_bucket\{le="0.005"\} 3\n/);
  t.match(text, /radius_decision_seconds_count 3\n/);
  t.match(text, /radius_pending_requests 7\n/);
  t.notMatch(text, /process_cpu/, 'no process metrics unless asked');
  // two instances do not share a registry
  t.match(await new Metrics().text(), /radius_requests_total\{code="1"\} 0\n/);
});

t.test('audit lines lost: a counter from 0, for an alert on any increase', async (t) => {
  const m = new Metrics();
  t.match(await m.text(), /# TYPE radius_audit_lines_lost_total counter\nradius_audit_lines_lost_total 0\n/);
  m.auditLinesLost(3);
  m.auditLinesLost(0);
  m.auditLinesLost(2);
  t.match(await m.text(), /\nradius_audit_lines_lost_total 5\n/);
});

t.test('process metrics on request: prom-client\'s defaults without the per-GC observer', async (t) => {
  const m = new Metrics({ processMetrics: true });
  const text = await m.text();
  for (const name of [
    'process_cpu_user_seconds_total',
    'process_start_time_seconds',
    'process_resident_memory_bytes',
    'process_open_fds',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_active_handles_total',
    'nodejs_heap_size_used_bytes',
    'nodejs_heap_space_size_used_bytes',
    'nodejs_version_info',
  ]) {
    t.match(text, new RegExp(`^${name}[ {]`, 'm'), name);
  }
  t.notMatch(text, /nodejs_gc_duration_seconds/, 'no GC histogram: its observer allocated on every GC');
  t.same([...PROCESS_METRICS, 'gc'].sort(), [...collectDefaultMetrics.metricsList].sort(), "prom-client's list, less gc");
});

t.test('many calls: every one counted (the figure per call is printed, not asserted)', async (t) => {
  const m = new Metrics();
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    m.request(1);
    m.decision('reject', 'wrong-code', 'password+otp', 0.001);
    m.pending(i & 15);
  }
  const perCall = Number(process.hrtime.bigint() - t0) / n / 3;
  t.comment(`${perCall.toFixed(0)} ns per metrics call`);
  t.match(await m.text(), new RegExp(`radius_requests_total\\{code="1"\\} ${n}\\n`));
});

t.test('server: GET /metrics on port 0, 404 elsewhere, 500 when collection fails', async (t) => {
  const m = new Metrics();
  m.request(1);
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, m);
  t.teardown(() => srv.close());
  t.ok(srv.port > 0);
  const ok = await get(srv.port, '/metrics');
  t.equal(ok.status, 200);
  t.match(ok.type, /^text\/plain; version=0.0.4/);
  t.match(ok.body, /radius_requests_total\{code="1"\} 1/);
  t.equal((await get(srv.port, '/metrics?x=1')).status, 200);
  const head = await get(srv.port, '/metrics', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.equal((await get(srv.port, '/')).status, 404);
  t.equal((await get(srv.port, '/metrics/x')).status, 404);
  t.equal((await get(srv.port, '/metrics', 'POST')).status, 404);

  const broken = new Metrics();
  broken.text = () => Promise.reject(new Error('collector failed'));
  const srv2 = await startMetricsServer({ host: '127.0.0.1', port: 0 }, broken);
  t.teardown(() => srv2.close());
  t.equal((await get(srv2.port, '/metrics')).status, 500);
});

t.test('server: a port in use is an error', async (t) => {
  const m = new Metrics();
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, m);
  await t.rejects(startMetricsServer({ host: '127.0.0.1', port: srv.port }, m), { code: 'EADDRINUSE' });
  await srv.close();
});

t.test('the token mirror’s figures: 0 until a source is given, then its gauges and its drops as a counter', async (t) => {
  const m = new Metrics();
  let text = await m.text();
  t.match(text, /radius_token_mirror_users 0\n/);
  t.match(text, /radius_token_mirror_tokens 0\n/);
  t.match(text, /radius_token_mirror_drops_total 0\n/);
  let stats: { users: number; tokens: number; clears: number } | null = { users: 2, tokens: 3, clears: 4 };
  m.tokenMirror(() => stats);
  text = await m.text();
  t.match(text, /radius_token_mirror_users 2\n/);
  t.match(text, /radius_token_mirror_tokens 3\n/);
  t.match(text, /radius_token_mirror_drops_total 4\n/);
  stats = { users: 0, tokens: 0, clears: 6 };
  t.match(await m.text(), /radius_token_mirror_drops_total 6\n/, 'counted once, across scrapes');
  stats = null; // no mirror (group commit off)
  text = await m.text();
  t.match(text, /radius_token_mirror_users 0\n/);
});
