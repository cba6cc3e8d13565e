/**
 * SCHED_IDLE (sched(7)) for the server's threads whose work can wait until the event loop
 * sleeps: V8's helpers (concurrent marking and sweeping, background compiles; bin/radius-otp
 * lowers them to nice 19 before anything loads) and the checkpoint thread (checkpoint-worker.ts).
 *
 * Nice 19 is not enough since Linux 6.6 (EEVDF). A nice-19 thread woken with time owed to it
 * preempts the event loop, and after any preemption the scheduler may pick such a thread over
 * the runnable event loop and leave it the core until the next tick (4 ms at 250 Hz). Traced with
 * `perf sched` at 16,700 requests/s, the server on one core: V8's helpers preempted the event
 * loop ~300 times a second each, and the waits of over 1 ms behind them were most of those seen.
 * A SCHED_IDLE thread never preempts a normal one and is preempted as soon as one wakes.
 *
 * Node has no call for sched_setscheduler(2): util-linux's chrt makes it (on Debian it is always
 * installed). Moving one's own threads to SCHED_IDLE needs no privilege. Without chrt, or where
 * it is refused, the threads stay at nice 19. Linux only, as nice per thread is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The policies of sched(7), as field 41 of /proc/PID/task/TID/stat shows them. */
export const SCHED_OTHER = 0;
export const SCHED_IDLE = 5;

export interface ThreadSched {
  tid: number;
  nice: number;
  policy: number;
}

/** A thread's nice value and policy from its stat line (proc(5): fields 19 and 41). */
export function parseThreadStat(tid: number, stat: string): ThreadSched {
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { tid, nice: Number(fields[16]), policy: Number(fields[38]) };
}

/** The threads of process `pid` (this one by default); [] without /proc. */
export function threadsOf(pid: number | 'self' = 'self'): ThreadSched[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadSched[] = [];
  for (const tid of tids) {
    try {
      out.push(parseThreadStat(Number(tid), readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The calling thread's id (a worker thread's own), or null without /proc. */
export function currentThreadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return null;
  }
}

/** util-linux's chrt, or null where there is none. */
export function findChrt(): string | null {
  return ['/usr/bin/chrt', '/bin/chrt'].find((p) => existsSync(p)) ?? null;
}

/**
 * Puts thread `tid` of this process under SCHED_IDLE; false where that could not be done (no
 * chrt, no such thread, refused).
 */
export function setIdlePolicy(tid: number, chrt: string | null = findChrt()): boolean {
  if (chrt === null) return false;
  const r = spawnSync(chrt, ['--idle', '--pid', '0', String(tid)], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}
