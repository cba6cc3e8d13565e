/**
 * Where the code-only runs put their processes. The issue's setup is "radclient -p 64 as the load
 * generator and the server on the other core": with two or more CPUs and util-linux's taskset,
 * the server starts under `taskset -c 1` (its libuv and SQLite threads inherit that) and every
 * generator of the run under `taskset -c 0`. Unpinned, the generators' busy loops (radclient
 * polls its socket with a zero select() timeout while it waits) took CPU time from the server on
 * a 2-core machine, and the scheduler moved the server's main thread between cores.
 *
 * Runs that need both cores for the server (argon2id: PAP, probes, password+code) are not pinned.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** A command prefix for each side; empty when nothing is pinned. */
export interface Placement {
  server: readonly string[];
  generator: readonly string[];
  /** For the table: how the run was placed. */
  label: string;
}

export const UNPINNED: Placement = { server: [], generator: [], label: '' };

let tasksetWorks: boolean | undefined;

/** The pinned placement when the machine allows it (and `want`), else UNPINNED. */
export function placement(want: boolean): Placement {
  if (!want || availableParallelism() < 2) return UNPINNED;
  tasksetWorks ??= spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (!tasksetWorks) return UNPINNED;
  return { server: ['taskset', '-c', '1'], generator: ['taskset', '-c', '0'], label: ', server on CPU 1, generator on CPU 0' };
}

/** `spawn` arguments for `command args…` run under `prefix` (a taskset, or nothing). */
export function prefixed(prefix: readonly string[], command: string, args: readonly string[]): [string, string[]] {
  const [head, ...rest] = prefix;
  return head === undefined ? [command, [...args]] : [head, [...rest, command, ...args]];
}
