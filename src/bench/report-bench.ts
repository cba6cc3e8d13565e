/**
 * Report benchmark: write `lines` realistic audit lines spread over 30 daily files in workDir,
 * run the report over them (by user, with the store's tokens), print and return the time taken
 * and the peak resident memory while it ran. A month of a busy server is millions of lines;
 * the report must stay in seconds and in bounded memory.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { auditFileNames } from '../audit/files.js';
import type { TokenUsage } from '../audit/report/aggregate.js';
import { buildReport } from '../audit/report/run.js';

const DAYS = 30;
const DAY_MS = 86_400_000;
const USERS = 5000;
const CLIENTS = 20;
const REASONS = ['wrong-code', 'wrong-password', 'replayed-code', 'locked', 'unknown-user', 'expired-state'];
const DROPS = ['unknown-client', 'ma-invalid', 'ma-missing', 'duplicate-in-progress'];

/** A small deterministic generator, so every run writes the same log. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function line(i: number, time: string, r: () => number): string {
  const u = Math.floor(r() * USERS);
  const c = Math.floor(r() * CLIENTS);
  const x = r();
  if (i % 100 === 99) {
    return JSON.stringify({ event: 'drop', time, server: 'radius-otp-1', server_ip: '10.0.0.2', client: '', client_ip: `10.9.0.${c}`, reason: DROPS[i % DROPS.length] });
  }
  const result = x < 0.8 ? 'accept' : x < 0.85 ? 'challenge' : 'reject';
  const mode = i % 20 === 7 ? 'app-password' : result === 'challenge' ? 'challenge' : 'password+otp';
  return JSON.stringify({
    event: 'decision',
    time,
    server: 'radius-otp-1',
    server_ip: '10.0.0.2',
    client: `nas-${c}`,
    client_ip: `10.1.0.${c}`,
    user: `user${u}@example.com`,
    calling_station_id: `00-11-22-${(u % 256).toString(16).padStart(2, '0')}-44-55`,
    nas_identifier: `nas-${c}`,
    mode,
    token_serial: mode === 'app-password' ? '' : `OATH${String(u).padStart(8, '0')}`,
    result,
    ...(result === 'reject' ? { reason: REASONS[i % REASONS.length] } : {}),
  });
}

export async function benchReport(opts: { lines: number; workDir: string }): Promise<{ seconds: number; peakRssMb: number }> {
  await mkdir(opts.workDir, { recursive: true });
  const file = join(opts.workDir, 'audit.log');
  const names = auditFileNames(file);
  const start = Date.UTC(2026, 0, 1);
  const perDay = Math.ceil(opts.lines / DAYS);
  const r = rng(42);
  let written = 0;
  for (let day = 0; day < DAYS && written < opts.lines; day++) {
    const out = createWriteStream(names.forDate(new Date(start + day * DAY_MS).toISOString().slice(0, 10)));
    const n = Math.min(perDay, opts.lines - written);
    for (let i = 0; i < n; i += 10_000) {
      const batch: string[] = [];
      for (let k = i; k < Math.min(n, i + 10_000); k++) {
        batch.push(line(written + k, new Date(start + day * DAY_MS + Math.floor((k / n) * DAY_MS)).toISOString(), r));
      }
      await new Promise((done) => out.write(`${batch.join('\n')}\n`, done));
    }
    written += n;
    out.end();
    await once(out, 'close');
  }
  const tokens: TokenUsage[] = Array.from({ length: USERS + 500 }, (_, u) => ({
    serial: `OATH${String(u).padStart(8, '0')}`,
    user: `user${u}@example.com`,
    lastUsedAt: null,
  }));

  let peak = 0;
  const sample = (): void => void (peak = Math.max(peak, process.memoryUsage().rss));
  sample();
  const sampler = setInterval(sample, 10);
  const t0 = performance.now();
  const report = await buildReport({ file, since: new Date(start), until: new Date(start + DAYS * DAY_MS), by: 'user', tokens });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  sample();
  const peakRssMb = Math.round(peak / 1048576);
  process.stdout.write(
    `report-bench: ${report.lines} lines in ${report.files} files, ${report.decisions} decisions, ${report.groups.length} users: ` +
      `${seconds.toFixed(2)} s (${Math.round(report.lines / seconds)} lines/s), peak RSS ${peakRssMb} MB\n`,
  );
  return { seconds, peakRssMb };
}
