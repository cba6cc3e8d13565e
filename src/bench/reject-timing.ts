/**
 * RELIABILITY O10: an unknown user, a user without a token and a wrong code get the same Reject
 * in the same time. Requests go one at a time (nothing queues inside the server to blur the
 * figure), and each round takes every cause in turn, so that the machine's minute weighs on each
 * alike. Times are measured here and printed by the bench; tests never assert them.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Code } from '../radius/codes.js';
import { encodeAccessRequest } from '../radius/request-encode.js';

export interface Cause {
  name: string;
  /** The request of round `round` (a fresh user each round: no lockout, no replay between rounds). */
  request: (round: number) => { user: string; password: string };
}

export interface Timed {
  name: string;
  /** Milliseconds from send to reply, one per round. */
  ms: number[];
  /** How many rounds got each reply code (RFC 2865 §3), 0 for no reply. */
  replies: Map<number, number>;
}

/** Sends `rounds` rounds of one request per cause to 127.0.0.1:`port`, each after the last reply. */
export async function timeCauses(port: number, secret: string, causes: readonly Cause[], rounds: number, timeoutMs = 5000): Promise<Timed[]> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const timed: Timed[] = causes.map((c) => ({ name: c.name, ms: [], replies: new Map() }));
  let identifier = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [i, cause] of causes.entries()) {
        const { user, password } = cause.request(round);
        identifier = (identifier + 1) % 256;
        const packet = encodeAccessRequest({ identifier, authenticator: randomBytes(16), secret: Buffer.from(secret), userName: user, password, nasIdentifier: 'bench-o10' });
        const started = performance.now();
        const code = await exchange(socket, packet, port, identifier, timeoutMs);
        const t = timed[i] as Timed;
        t.ms.push(performance.now() - started);
        t.replies.set(code, (t.replies.get(code) ?? 0) + 1);
      }
    }
  } finally {
    socket.close();
  }
  return timed;
}

/** The reply's code, or 0 when none with this identifier came within `timeoutMs`. */
function exchange(socket: ReturnType<typeof createSocket>, packet: Buffer, port: number, identifier: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const done = (code: number): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(code);
    };
    const onMessage = (msg: Buffer): void => {
      if (msg.length >= 20 && msg[1] === identifier) done(msg[0] as number);
    };
    const timer = setTimeout(() => done(0), timeoutMs);
    socket.on('message', onMessage);
    socket.send(packet, port, '127.0.0.1');
  });
}

/** "reject ×40", "accept ×39, none ×1": what the rounds of a cause got. */
export function describeReplies(replies: ReadonlyMap<number, number>): string {
  const NAMES: Record<number, string> = { [Code.AccessAccept]: 'accept', [Code.AccessReject]: 'reject', [Code.AccessChallenge]: 'challenge', 0: 'none' };
  return [...replies.entries()].map(([code, n]) => `${NAMES[code] ?? `code ${code}`} ×${n}`).join(', ');
}

/** How far apart the Rejects' medians are: (largest − smallest) / smallest. */
export function spread(medians: readonly number[]): number {
  const lo = Math.min(...medians);
  return (Math.max(...medians) - lo) / lo;
}
