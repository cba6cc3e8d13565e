/**
 * Child processes of the bench: the server (bin/radius-otp serve from dist), the bare responder
 * (dist/bench/floor-server.js), FreeRADIUS (freeradius.ts), the Node load generator
 * (dist/bench/loadgen.js), the core probe (dist/bench/core-stalls.js) and radclient.
 * Every child is ended by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FREERADIUS, FREERADIUS_READY } from './freeradius.js';
import type { CoreStalls } from './core-stalls.js';
import type { LoadJob, LoadResult } from './loadgen.js';
import { prefixed } from './placement.js';

const BIN = fileURLToPath(new URL('../../bin/radius-otp', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor-server.js', import.meta.url));
const CORE_PROBE = fileURLToPath(new URL('./core-stalls.js', import.meta.url));

export interface ServerProcess {
  pid: number;
  port: number;
  /** Resident and peak resident memory (MB), from /proc. */
  memory(): { rss: number; hwm: number };
  /** CPU seconds the process used so far (all threads). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const TICKS = 100; // USER_HZ on Linux

/** The Node flags bin/radius-otp's shebang gives the server (README "Running it"), read from it. */
const SERVER_NODE_FLAGS = (() => {
  const m = /^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? '');
  if (m === null) throw new Error(`${BIN}: not the expected '#!/usr/bin/env -S node …' line`);
  return (m[1] as string).split(' ').filter(Boolean);
})();

/** The built server on `config`; `prefix` (placement.ts) pins it to a CPU. */
export function startServerProcess(config: string, nodeArgs: readonly string[] = [], prefix: readonly string[] = []): Promise<ServerProcess> {
  return startListening('server', process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, BIN, 'serve', '--config', config], prefix, listeningPort);
}

/** The bare responder of floor-server.ts, with the server's Node flags and placement. */
export async function startFloorProcess(secret: string, prefix: readonly string[] = []): Promise<ServerProcess & { metricsPort: number }> {
  let metricsPort = NaN;
  const p = await startListening('floor server', process.execPath, [...SERVER_NODE_FLAGS, FLOOR, secret], prefix, (out) => {
    metricsPort = Number(/metrics on 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? NaN);
    return Number.isFinite(metricsPort) ? listeningPort(out) : null;
  });
  return Object.assign(p, { metricsPort });
}

/** FreeRADIUS on the raddb `dir` of writeFreeradiusConfig, listening on `port`: `freeradius -f` (foreground, threaded). */
export function startFreeradiusProcess(dir: string, port: number, prefix: readonly string[]): Promise<ServerProcess> {
  return startListening('freeradius', FREERADIUS, ['-f', '-d', dir, '-l', 'stdout'], prefix, (out) => (out.includes(FREERADIUS_READY) ? port : null));
}

/** The port of a Node child that printed "listening on 127.0.0.1:PORT", null until it has. */
function listeningPort(out: string): number | null {
  const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
  return m ? Number(m[1]) : null;
}

/**
 * A server process (`command args…` under `prefix`); it is ready when `ready`, given all its
 * output so far, returns the UDP port it listens on.
 */
async function startListening(
  what: string,
  command: string,
  args: readonly string[],
  prefix: readonly string[],
  ready: (out: string) => number | null,
): Promise<ServerProcess> {
  const child = spawn(...prefixed(prefix, command, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 30 s: ${stderr}${out.slice(-2000)}`)), 30_000);
    let started = false;
    child.stdout?.on('data', (d: Buffer) => {
      // Read to the end (a full pipe would stall the child); looked at only until it is ready.
      if (started) return;
      out += d.toString();
      const p = ready(out);
      if (p !== null) {
        started = true;
        clearTimeout(timer);
        resolve(p);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before listening: ${stderr}${out.slice(-2000)}`));
    });
  });
  const pid = child.pid as number;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid,
    port,
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
      return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
    },
    cpuSeconds() {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / TICKS;
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs one load generator process to its end and returns what it measured. */
export function runLoadgen(job: LoadJob, prefix: readonly string[] = []): Promise<LoadResult> {
  return runForJson<LoadResult>('loadgen', [LOADGEN, JSON.stringify(job)], prefix);
}

/**
 * core-stalls.ts for `seconds` under `prefix` (a core of placement.ts), with V8's helper threads
 * off (--single-threaded), so that only other processes can take the core from it.
 */
export function runCoreProbe(seconds: number, prefix: readonly string[]): Promise<CoreStalls> {
  return runForJson<CoreStalls>('core probe', ['--single-threaded', CORE_PROBE, String(seconds)], prefix);
}

/** A Node child that prints one JSON result on stdout and exits 0. */
function runForJson<T>(what: string, args: readonly string[], prefix: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(...prefixed(prefix, process.execPath, args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    // 'close', not 'exit': stdout may still hold the result when the process has exited.
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`${what} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`${what} printed no result: ${out} ${err}`));
      }
    });
  });
}

export interface RadclientSummary {
  accepted: number;
  rejected: number;
  lost: number;
  wallSeconds: number;
  /** Set when radclient printed no summary (it failed): its exit status and last output line. */
  failure?: string;
}

export interface RadclientRun {
  file: string;
  port: number;
  secret: string;
  parallel: number;
  /** A directory with a `dictionary` for radclient -D (writeRadclientDictionary). */
  dictionary: string;
  prefix: readonly string[];
}

/** `radclient -D DICT -f FILE -p PARALLEL -q -s`: reads every request from the file, then sends them. */
export function runRadclient(run: RadclientRun): { child: ChildProcess; done: Promise<RadclientSummary> } {
  const started = Date.now();
  const args = ['-D', run.dictionary, '-f', run.file, '-p', String(run.parallel), '-q', '-s', '-r', '1', '-t', '5', `127.0.0.1:${run.port}`, 'auth', run.secret];
  const child = spawn(...prefixed(run.prefix, 'radclient', args), { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<RadclientSummary>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    // 'close', not 'exit': radclient's summary can arrive after its exit (a run read as printing none).
    child.once('close', (code, signal) => {
      const n = (label: string) => Number(new RegExp(`${label}\\s*:\\s*(\\d+)`).exec(out)?.[1] ?? NaN);
      const summary = { accepted: n('Accepted'), rejected: n('Rejected'), lost: n('Lost'), wallSeconds: (Date.now() - started) / 1000 };
      if ([summary.accepted, summary.rejected, summary.lost].every(Number.isFinite)) return resolve(summary);
      const last = out.trim().split('\n').at(-1) ?? '';
      resolve({ accepted: 0, rejected: 0, lost: 0, wallSeconds: summary.wallSeconds, failure: `radclient ${signal ?? `exit ${code}`}: ${last.slice(0, 200)}` });
    });
  });
  return { child, done };
}

/**
 * The attributes the bench's requests and the server's replies carry, as a radclient dictionary
 * in `dir`. radclient 3.2 reads its whole dictionary tree (about 250 files, ~15 ms of CPU) at every
 * start; with requests in files of 1,000 that was a fifth of its time per request. The packets
 * are the same either way; attributes not listed here would only print as Attr-N.
 */
export function writeRadclientDictionary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const attributes: Array<[string, number, string]> = [
    ['User-Name', 1, 'string'],
    ['User-Password', 2, 'string encrypt=1'],
    ['Reply-Message', 18, 'string'],
    ['State', 24, 'octets'],
    ['Class', 25, 'octets'],
    ['NAS-Identifier', 32, 'string'],
    ['Message-Authenticator', 80, 'octets'],
  ];
  writeFileSync(join(dir, 'dictionary'), attributes.map(([name, code, type]) => `ATTRIBUTE\t${name}\t${code}\t${type}\n`).join(''));
  return dir;
}

/** radclient's request file: one request per paragraph. */
export function writeRadclientFile(file: string, requests: Iterable<{ user: string; password: string }>): number {
  const parts: string[] = [];
  for (const r of requests) {
    parts.push(`User-Name = "${r.user}", User-Password = "${r.password}", NAS-Identifier = "bench-nas", Message-Authenticator = 0x00\n`);
  }
  writeFileSync(file, parts.join('\n'));
  return parts.length;
}

/** A TCP port free right now on 127.0.0.1 (for the metrics endpoint). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A UDP port free on 127.0.0.1 right now (for a server that cannot be told to take port 0). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** radius_requests_total{code="1"} from the server's /metrics. */
export async function scrapeRequests(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  return Number(/^radius_requests_total\{code="1"\} (\d+)/m.exec(text)?.[1] ?? NaN);
}
