/**
 * What the bench's fixture (store) and its load generators agree on: user names, the password,
 * and each token's secret, derived from the user's index so no secret travels between processes.
 * Benchmark data only: these secrets protect nothing.
 */
import { createHmac } from 'node:crypto';
import { writeCode } from '../otp/direct.js';
import { totpStep } from '../otp/step.js';

export const BENCH_SECRET = 'bench-secret-0123456789';
export const BENCH_PASSWORD = 'pw-bench';
export const PERIOD = 30;

export const tokenUser = (i: number): string => `u${i}`;
export const papUser = (i: number): string => `p${i}`;
export const serialOf = (i: number): string => `B${String(i).padStart(7, '0')}`;

/** A 20-byte SHA-1 key per user index (RFC 4226 R6 wants at least 16 bytes). */
export function tokenSecret(i: number): Buffer {
  return createHmac('sha256', 'radius-otp bench seed').update(String(i)).digest().subarray(0, 20);
}

const secrets: Buffer[] = [];
const CODE = Buffer.alloc(6);

/**
 * The 6-digit TOTP code of user i for time step `step` (period 30, T0 0, SHA-1), through
 * otp/direct.ts (pinned to the RFC 4226/6238 vectors and to oathtool by test/otp).
 */
export function codeFor(i: number, step: number): string {
  const secret = (secrets[i] ??= tokenSecret(i));
  writeCode(CODE, secret, step, 'SHA1');
  return CODE.toString('latin1');
}

export const stepNow = (): number => totpStep(Date.now() / 1000, PERIOD, 0);

/** Percentiles of a list of latencies (ms). */
export function percentiles(values: Float64Array | number[], ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => (sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number)));
}

/** The code-only throughput target (requests/s), radclient -p 64, server on its own core. */
export const TARGET_RPS = 22_000;

/**
 * The throughput target as a share of FreeRADIUS with one worker thread: ≥ 22,000/s where
 * FreeRADIUS did ~24,000/s on the same machine.
 */
export const TARGET_SHARE_OF_FREERADIUS = TARGET_RPS / 24_000;

/** ours/theirs for each pair, and their median (the mean of the middle two for an even count; NaN for none). */
export function pairRatios(pairs: ReadonlyArray<readonly [ours: number, theirs: number]>): { ratios: number[]; median: number } {
  const ratios = pairs.map(([ours, theirs]) => ours / theirs);
  return { ratios, median: median(ratios) };
}

/** The middle value (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Measured seconds of an open-loop code run at `rate` over `users` users: `seconds`, or fewer
 * when the users would run out first. Each request takes a user with a code it has not sent yet,
 * and within a TOTP step there is about one such code per user (the next step's, built in
 * advance, or the current one's); a generator left without codes sends late and measures itself.
 * At least one second.
 */
export function openLoopSeconds(rate: number, users: number, seconds: number, warmup: number): number {
  const fit = Math.floor((users / (rate * 1.05) - warmup) * 10) / 10;
  return Math.max(1, Math.min(seconds, fit));
}
