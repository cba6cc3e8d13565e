/**
 * How often the machine takes a core away from a thread that is ready to run, with nothing of
 * ours running: a thread sleeps SLEEP_MS at a time (a futex wait, as the event loop's epoll wait
 * is) and notes how late each wake-up is. A late wake-up is another task holding the core (on
 * this VM: the sandbox agent's runtime thread at nice -10, kdamond, rcu_preempt; each may keep
 * it to the next 4-ms tick) or the host not running the virtual CPU.
 *
 * The bench probes the server's core and the generator's before the open-loop runs, because at
 * half of max such a stall decides the p99: at rate λ and utilisation ρ, a stall of S ms holds
 * back λ·S requests and the server needs S·ρ/(1 − ρ) more to drain them, so ~λ·(S − 2)/(1 − ρ)
 * requests end over 2 ms; at ρ ≈ 0.6, two 4-ms stalls a second are already 1 % of all requests.
 *
 *   node dist/bench/core-stalls.js SECONDS → one JSON line (CoreStalls)
 */
import { pathToFileURL } from 'node:url';

/** The sleep between checks (ms): short enough to see a stall of 1 ms, long enough to stay asleep. */
export const SLEEP_MS = 0.5;
/** Lateness under this (timer slack and the wake-up itself, ~0.1 ms here) is not counted. */
const NOTED_MS = 1;

export interface CoreStalls {
  seconds: number;
  /** Wake-ups checked. */
  wakes: number;
  /** Wake-ups at least 1 ms and at least 2 ms late, per second. */
  over1PerSecond: number;
  over2PerSecond: number;
  /** The latest wake-up (ms late); 0 when none was 1 ms late. */
  longestMs: number;
}

/** The summary of `lateMs` (the lateness of each wake-up of NOTED_MS or more) over `seconds`. */
export function summarize(lateMs: readonly number[], seconds: number, wakes: number): CoreStalls {
  const per = (min: number) => lateMs.filter((l) => l >= min).length / seconds;
  return { seconds, wakes, over1PerSecond: per(1), over2PerSecond: per(2), longestMs: lateMs.reduce((a, b) => Math.max(a, b), 0) };
}

const NAP = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps `ms` in a futex wait. */
function futexSleep(ms: number): void {
  Atomics.wait(NAP, 0, 0, ms);
}

/** Sleeps SLEEP_MS at a time (with `sleep`) for `seconds`, blocking the calling thread throughout. */
export function probeCore(seconds: number, sleep: (ms: number) => void = futexSleep): CoreStalls {
  const late: number[] = [];
  const end = performance.now() + seconds * 1000;
  let wakes = 0;
  for (let t0 = performance.now(); t0 < end; t0 = performance.now()) {
    sleep(SLEEP_MS);
    wakes++;
    const l = performance.now() - t0 - SLEEP_MS;
    if (l >= NOTED_MS) late.push(l);
  }
  return summarize(late, seconds, wakes);
}

/** "1.2/s ≥ 2 ms (longest 4.0 ms)", for the bench's notes. */
export function describe(s: CoreStalls): string {
  return `${s.over2PerSecond.toFixed(1)}/s ≥ 2 ms, ${s.over1PerSecond.toFixed(1)}/s ≥ 1 ms (longest ${s.longestMs.toFixed(1)} ms)`;
}

/* c8 ignore start -- run as a process by the bench (procs.ts runCoreProbe) */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(probeCore(Number(process.argv[2] ?? 5)))}\n`);
}
/* c8 ignore stop */
