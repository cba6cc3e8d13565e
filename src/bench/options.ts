import type { Synchronous } from '../store/sqlite/open.js';

/** `npm run bench -- [--only a,b] [--seconds N] …`; each flag also as BENCH_<NAME> in the environment. */
export const SCENARIOS = ['pap', 'probes', 'code-only', 'inproc', 'password+code', 'reject-timing', 'memory', 'import', 'report'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  only: Set<Scenario>;
  /** Measured seconds of each load run. */
  seconds: number;
  warmup: number;
  /** Tokens in the store (one user each); code-only and password+code use them all. */
  tokens: number;
  papUsers: number;
  /** PAP concurrency (scenario 1). */
  concurrency: number;
  /** PAP requests kept in flight while probing (scenario 2). */
  flood: number;
  /** Status-Server and retransmission probes per second each (scenario 2). */
  probeRate: number;
  /**
   * Seconds of closed-loop load each code-only open-loop run starts with, unmeasured: a fresh
   * server is still compiling its request path for its first ~15,000 requests.
   */
  serverWarmup: number;
  /** Open-loop rate for code-only latency below saturation (requests/s); 0 = a half, a quarter and a tenth of the closed-loop rate. */
  rate: number;
  /** Code-only open-loop runs of ours at each rate (a fresh server each), alternated; the row gives their median. */
  openRuns: number;
  /** Requests radclient sends for code-only (at most 2 × tokens) and for password+code. */
  radclientRequests: number;
  radclientPasswordRequests: number;
  parallel: number;
  /** Requests per radclient file, and radclient processes running at once. */
  radclientChunk: number;
  radclientProcs: number;
  /** Code-only runs: server on CPU 1, generators on CPU 0 (placement.ts), when the machine allows. */
  pin: boolean;
  /** Code-only: FreeRADIUS with rlm_totp under the same loads (freeradius.ts), when it is installed. */
  freeradius: boolean;
  /** Code-only: alternated radclient pairs, ours (audit off) then FreeRADIUS with one worker (0 = none). */
  pairs: number;
  audit: 'on' | 'off' | 'both';
  /** [store] synchronous of the servers (full: an Accept waits for the WAL's fdatasync). */
  synchronous: Synchronous;
  /** [server] hash_threads for the PAP and probe runs (0 = the default, one per core). */
  hashThreads: number;
  /** Seconds of code-only load before the memory figure (scenario 4). */
  memorySeconds: number;
  /** Scenario 5 sizes. */
  importTokens: number;
  reportLines: number;
  /** Directory for the server's --cpu-prof profiles; '' = no profiling. */
  profile: string;
  help: boolean;
}

const DEFAULTS: Omit<BenchOptions, 'only'> = {
  seconds: 8,
  warmup: 1,
  tokens: 100_000,
  papUsers: 100,
  concurrency: 16,
  flood: 64,
  probeRate: 200,
  rate: 0,
  openRuns: 3,
  serverWarmup: 3,
  radclientRequests: 150_000,
  radclientPasswordRequests: 400,
  parallel: 64,
  radclientChunk: 1000,
  radclientProcs: 2,
  pin: true,
  freeradius: true,
  pairs: 3,
  audit: 'both',
  synchronous: 'normal',
  hashThreads: 0,
  memorySeconds: 30,
  importTokens: 100_000,
  reportLines: 1_000_000,
  profile: '',
  help: false,
};

export const USAGE = `npm run bench -- [options]   (each option also as BENCH_NAME=value, e.g. BENCH_SECONDS=5)
  --only LIST           comma-separated: ${SCENARIOS.join(', ')} (default all)
  --seconds N           measured seconds per load run (${DEFAULTS.seconds}); --warmup N (${DEFAULTS.warmup})
  --tokens N            tokens (= users) in the store (${DEFAULTS.tokens})
  --concurrency N       PAP requests in flight, scenario 1 (${DEFAULTS.concurrency})
  --flood N             PAP requests in flight while probing, scenario 2 (${DEFAULTS.flood})
  --probe-rate N        Status-Server / retransmission probes per second (${DEFAULTS.probeRate})
  --server-warmup N     code-only open-loop runs: seconds of unmeasured closed-loop load first (${DEFAULTS.serverWarmup})
  --rate N              code-only open-loop rate for latency below saturation (default: a half, a quarter and a tenth of the closed-loop rate)
  --open-runs N         code-only open-loop runs of ours at each rate, each with a fresh server, audit on and off
                        alternated; the row gives the median of their p50s and p99s and lists each p99 (${DEFAULTS.openRuns})
  --radclient-requests N, --radclient-password-requests N, --parallel N (radclient -p, ${DEFAULTS.parallel})
  --radclient-chunk N   requests per radclient file (${DEFAULTS.radclientChunk}); --radclient-procs N radclients at once (${DEFAULTS.radclientProcs})
  --pin true|false      code-only runs: server on CPU 1, generators on CPU 0 (${DEFAULTS.pin}; needs 2 CPUs and taskset)
  --freeradius true|false   code-only: FreeRADIUS 3.2 with rlm_totp under the same loads, if installed (${DEFAULTS.freeradius})
  --pairs N             code-only, with FreeRADIUS: N alternated radclient pairs, ours (audit off) and
                        FreeRADIUS with one worker, judged by their median ratio (${DEFAULTS.pairs}; 0 = none)
  --audit on|off|both   audit log for code-only runs (${DEFAULTS.audit})
  --synchronous full|normal   [store] synchronous of the servers (${DEFAULTS.synchronous})
  --hash-threads N      [server] hash_threads for the PAP and probe runs (0 = one per core)
  --memory-seconds N    code-only load before the memory figure (${DEFAULTS.memorySeconds})
  --import-tokens N, --report-lines N   scenario 5 sizes (${DEFAULTS.importTokens}, ${DEFAULTS.reportLines})
  --profile DIR         write the server's V8 CPU profiles (--cpu-prof) into DIR`;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = (key: string): string => `BENCH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const raw = new Map<string, string>();
  for (const key of [...Object.keys(DEFAULTS), 'only']) {
    const v = env[envName(key)];
    if (v !== undefined) raw.set(key, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') raw.set('help', 'true');
    else if (a.startsWith('--')) {
      const [flag, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      const key = camel(flag);
      if (!(key in DEFAULTS) && key !== 'only') throw new Error(`unknown option --${flag}\n${USAGE}`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${flag} needs a value`);
      raw.set(key, value);
    } else throw new Error(`unexpected argument ${a}\n${USAGE}`);
  }
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of raw) {
    if (key === 'only') continue;
    const d = (DEFAULTS as unknown as Record<string, unknown>)[key];
    if (typeof d === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} must be a non-negative number`);
      out[key] = n;
    } else if (typeof d === 'boolean') out[key] = value !== 'false' && value !== '0';
    else out[key] = value;
  }
  if (!['on', 'off', 'both'].includes(out.audit as string)) throw new Error('--audit must be on, off or both');
  if (!['full', 'normal'].includes(out.synchronous as string)) throw new Error('--synchronous must be full or normal');
  if (!Number.isInteger(out.openRuns) || (out.openRuns as number) < 1) throw new Error('--open-runs must be a whole number, at least 1');
  const onlyRaw = raw.get('only');
  const only = new Set<Scenario>();
  for (const s of onlyRaw === undefined ? SCENARIOS : onlyRaw.split(',').map((x) => x.trim())) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
    only.add(s as Scenario);
  }
  return { ...(out as Omit<BenchOptions, 'only'>), only };
}
