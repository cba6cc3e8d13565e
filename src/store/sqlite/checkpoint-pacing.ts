/**
 * When the checkpoint thread (checkpoint-worker.ts) makes its next pass. A pass that copies
 * frames back ends with two fsyncs (WAL, then database) whatever the number of frames, so at
 * moderate rates passes every few ms cost more than the copying: at 5,000 decisions/s, with a
 * pass every 5 ms (~25 frames each), the thread took ~13 µs of CPU per decision on the server's
 * core. After a pass that copied few frames the next waits lazyMs (measured at 5,000/s: the
 * thread's CPU −58 %, the server's −8 %); after a pass that copied busyFrames or more, busyMs, so
 * under heavy load the WAL stays as short as before (a 50 ms wait at 20,000/s would leave
 * ~1,000 frames each time) and the connection's own catch-up (checkpointer.ts) stays small.
 */
import type { CheckpointResult } from './checkpoint-worker.js';

/**
 * The thread's nice value: the lowest priority, so it runs when the event loop waits (raising
 * one's own nice value needs no privilege).
 */
export const CHECKPOINT_NICE = 19;

export interface Pacing {
  /** Nothing new since the last pass. */
  idleMs: number;
  /** The last pass copied busyFrames or more. */
  busyMs: number;
  /** The last pass copied fewer. */
  lazyMs: number;
  busyFrames: number;
}

/** The thread's memory between passes: WAL frames copied back, as of its last pass. */
export interface PassState {
  checkpointed: number;
}

/**
 * The wait before the next pass, given this pass's result (undefined: nothing was new). The
 * count of copied frames falls when the WAL started over since the last pass; then all of it
 * is this pass's.
 */
export function nextWait(p: Pacing, state: PassState, result: CheckpointResult | undefined): number {
  if (result === undefined) return p.idleMs;
  const copied = result.checkpointed < state.checkpointed ? result.checkpointed : result.checkpointed - state.checkpointed;
  state.checkpointed = result.checkpointed;
  return copied >= p.busyFrames ? p.busyMs : p.lazyMs;
}
