/**
 * The bench's load generator, run as its own process (`node dist/bench/loadgen.js JOB_JSON`) so
 * the server keeps a core to itself. Sends Access-Requests (PAP, code alone, password+code) or
 * Status-Server / retransmission probes over loopback, checks every reply's authenticators, and
 * prints one JSON line of counts and latencies on stdout.
 *
 * - closed: `concurrency` requests in flight; each reply (or timeout) sends the next.
 * - open: `rate` requests per second whatever the replies do; latency below saturation is
 *   measured this way, paced on a ~1 ms timer or, with pacing 'spin', each request sent when it
 *   is due. Code requests are built before the clock starts. Against a bare UDP echo at 7,000/s
 *   the generator's own p99 was 12–14 ms when it encoded bursts on the timer, 3.7 ms with the
 *   requests built in advance, 1.7 ms spinning. Its garbage shows in every server's p99 too: a
 *   scavenge stops sending and receiving. Sockets are connected (a send does no address lookup),
 *   requests in flight sit in slots (in-flight.ts) and replies are checked without hash objects,
 *   so almost nothing survives a scavenge: against the bare responder at 10,700/s, p99 went from
 *   1.41 ms to 0.36 (scavenges 0.6 ms instead of 1.3-1.5, and no more incremental marking).
 * Only requests sent after `warmup` seconds count; the run stops by itself after warmup+seconds.
 *
 * Codes (kind code-only / password+code): user i gets the TOTP code of step T−1, then T, then
 * T+1 (T now), each step above the last one accepted and within ±1 of the drift the server has
 * learnt, so every request is a fresh code of a different user and the server's replay guard
 * does a real write. A user with no usable step left is skipped until the clock moves on.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { Code } from '../radius/codes.js';
import { encodeAccessRequest, verifyReply } from '../radius/request-encode.js';
import { BENCH_PASSWORD, codeFor, papUser, PERIOD, percentiles, stepNow, tokenUser } from './common.js';
import { InFlightTable } from './in-flight.js';

export type LoadKind = 'pap' | 'code-only' | 'password+code' | 'status' | 'retransmit';

export interface LoadJob {
  host: string;
  port: number;
  secret: string;
  kind: LoadKind;
  /** Users 0 … users−1 (token users u<i>, or PAP users p<i>). */
  users: number;
  mode: 'closed' | 'open';
  concurrency?: number;
  rate?: number;
  seconds: number;
  warmup: number;
  timeoutMs?: number;
  /** UDP sockets to send from (each carries up to 256 requests in flight). */
  sockets?: number;
  /** Source address (a second loopback address picks another [[client]]). */
  bindAddress?: string;
  /**
   * Open mode: 'timer' (default) sends what is due every ~1 ms, in small bursts; 'spin' loops
   * on setImmediate so each request leaves when it is due. Spin takes a whole core: use it only
   * where the generator has a core to itself (the code-only latency run), never beside a load
   * that needs both cores (a spinning probe halved the PAP flood's argon2 throughput).
   */
  pacing?: 'timer' | 'spin';
  /**
   * Code kinds: the code of the current step only, never T−1 or T+1, so the server learns no
   * drift. A warm-up before an open-loop run on the same users (whose codes, built in advance
   * for step T+1, are then still inside the server's window) uses it.
   */
  currentStepOnly?: boolean;
  /**
   * With currentStepOnly: codes also in a step's last second, for a server that learns no drift
   * (FreeRADIUS's rlm_totp), which rejects the few that arrive after the step ended.
   */
  untilStepEnd?: boolean;
}

export interface LoadResult {
  kind: LoadKind;
  mode: 'closed' | 'open';
  sent: number;
  /** Requests sent in the measured window, and the replies to them. */
  measured: number;
  replies: number;
  accept: number;
  reject: number;
  challenge: number;
  timeouts: number;
  badReplies: number;
  /** Errors a socket reported (ICMP port unreachable, on a connected socket). */
  socketErrors: number;
  /** No free identifier (open mode) or no user with a usable code left. */
  skipped: number;
  exhausted: number;
  seconds: number;
  /** Replies per second over the measured window. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** CPU the generator itself used, as a share of one core. */
  cpu: number;
}

interface InFlight {
  sentAt: number;
  authenticator: Buffer;
  measured: boolean;
  socket: number;
  id: number;
  /** Built in advance (its identifier is not from the free list). */
  prepared: boolean;
}

const hr = (): number => Number(process.hrtime.bigint()) / 1e6; // ms

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const secret = Buffer.from(job.secret, 'utf8');
  const timeoutMs = job.timeoutMs ?? 3000;
  const socketCount = job.sockets ?? (job.kind === 'retransmit' ? 4 : 16);
  const sockets: Socket[] = [];
  const freeIds: number[][] = [];
  const inFlight = new InFlightTable<InFlight>(socketCount);
  const latencies: number[] = [];
  const r = { sent: 0, measured: 0, replies: 0, accept: 0, reject: 0, challenge: 0, timeouts: 0, badReplies: 0, socketErrors: 0, skipped: 0, exhausted: 0 };

  // Per-user TOTP state: last step sent and the drift it implies.
  const last = new Float64Array(job.users).fill(-1);
  const drift = new Int8Array(job.users);
  let cursor = 0;
  let papCursor = 0;

  /** Steps either side of now a code may be for. */
  const reach = job.currentStepOnly === true ? 0 : 1;
  /**
   * The step at which every user was found without a usable code: none gets one back before the
   * clock moves on, so until then nextCode answers at once instead of trying every user again
   * (at 100,000 users that search, on every request due, stalled the generator for ~100 ms).
   */
  let exhaustedStep = -1;
  /** The next user with a usable code and its code, or null when none has one now. */
  const nextCode = (): { user: number; code: string } | null => {
    // A current-step code that reaches the server after the step ended is taken as T−1 and
    // teaches it a drift of −1 (the run after would be refused): none in a step's last second.
    if (reach === 0 && job.untilStepEnd !== true && (Date.now() / 1000) % PERIOD > PERIOD - 1) return null;
    const t = stepNow();
    if (t === exhaustedStep) return null;
    for (let tries = 0; tries < job.users; tries++) {
      const i = cursor;
      cursor = (cursor + 1) % job.users;
      const d = drift[i] as number;
      const from = Math.max((last[i] as number) + 1, t - reach, t + d - reach);
      const to = Math.min(t + reach, t + d + reach);
      if (from > to) continue;
      last[i] = from;
      drift[i] = from - t;
      return { user: i, code: codeFor(i, from) };
    }
    exhaustedStep = t;
    return null;
  };

  let onDone: (() => void) | null = null;
  let stopping = false;
  // Set once the sockets are ready (and primed, for retransmissions).
  let start = 0;
  let warmEnd = 0;
  let end = 0;

  // Retransmission probes: one answered request per socket, sent again byte for byte.
  const primed: Array<{ packet: Buffer; authenticator: Buffer } | null> = [];

  const release = (key: number, f: InFlight): void => {
    inFlight.delete(key);
    if (job.kind !== 'retransmit' && !f.prepared) (freeIds[f.socket] as number[]).push(f.id);
    if (!stopping) afterReply();
    else if (inFlight.size === 0) onDone?.();
  };

  const onMessage = (s: number) => (msg: Buffer) => {
    const key = s * 256 + (msg[1] ?? 0);
    const f = inFlight.get(key);
    if (f === undefined) return; // late reply after a timeout
    const now = hr();
    if (!verifyReply(msg, f.authenticator, secret).ok) r.badReplies++;
    else if (msg[0] === Code.AccessAccept) r.accept++;
    else if (msg[0] === Code.AccessReject) r.reject++;
    else if (msg[0] === Code.AccessChallenge) r.challenge++;
    if (f.measured) {
      r.replies++;
      latencies.push(now - f.sentAt);
    }
    release(key, f);
  };

  for (let s = 0; s < socketCount; s++) {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: job.bindAddress ?? '127.0.0.1', port: 0 }, () => resolve());
    });
    // Connected: a send then takes no address lookup (a callback per packet, and garbage).
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(job.port, job.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A connected socket reports ICMP port unreachable as an error: counted as a lost request.
    socket.on('error', () => r.socketErrors++);
    socket.on('message', onMessage(s));
    sockets.push(socket);
    freeIds.push(Array.from({ length: 256 }, (_, i) => 255 - i));
  }

  const build = (id: number, authenticator: Buffer): Buffer | null => {
    const base = { identifier: id, authenticator, secret, nasIdentifier: 'bench-nas' };
    switch (job.kind) {
      case 'status':
        return encodeAccessRequest({ ...base, code: Code.StatusServer });
      case 'pap':
        papCursor = (papCursor + 1) % job.users;
        return encodeAccessRequest({ ...base, userName: papUser(papCursor), password: BENCH_PASSWORD });
      case 'code-only':
      case 'password+code': {
        const next = nextCode();
        if (next === null) return null;
        const password = job.kind === 'code-only' ? next.code : BENCH_PASSWORD + next.code;
        return encodeAccessRequest({ ...base, userName: tokenUser(next.user), password });
      }
      /* c8 ignore next 2 -- retransmit does not build new packets */
      case 'retransmit':
        return null;
    }
  };

  /**
   * Open mode, code kinds: requests built in advance, each with its own socket and identifier
   * (round robin) and a fresh code of a different user; one still in flight when its turn comes
   * round again is skipped. Users left over after these are served by build() as usual. Not with
   * currentStepOnly: codes built in advance are for step T+1, which such a run must not send.
   */
  interface Prepared {
    socket: number;
    id: number;
    authenticator: Buffer;
    packet: Buffer;
  }
  const prepared: Prepared[] = [];
  if (job.mode === 'open' && job.currentStepOnly !== true && (job.kind === 'code-only' || job.kind === 'password+code')) {
    const wanted = Math.min(job.users, Math.ceil((job.rate ?? 1000) * (job.warmup + job.seconds) * 1.02));
    // Codes of the next step: still inside the server's ±1 window for 60 s or more.
    const step = stepNow() + 1;
    for (let k = 0; k < wanted; k++) {
      const authenticator = randomBytes(16);
      const socket = k % socketCount;
      const id = Math.floor(k / socketCount) % 256;
      const code = codeFor(k, step);
      last[k] = step;
      drift[k] = step - stepNow();
      const password = job.kind === 'code-only' ? code : BENCH_PASSWORD + code;
      const packet = encodeAccessRequest({ identifier: id, authenticator, secret, nasIdentifier: 'bench-nas', userName: tokenUser(k), password });
      prepared.push({ socket, id, authenticator, packet });
    }
    cursor = wanted % job.users;
  }
  let preparedNext = 0;

  let nextSocket = 0;
  /** Sends one request; false when there was nothing to send (no identifier, no usable code). */
  /** Records a request as in flight and sends it. */
  const send = (socket: number, id: number, authenticator: Buffer, packet: Buffer, now: number, prepared = false): true => {
    const f: InFlight = { sentAt: now, authenticator, measured: now >= warmEnd, socket, id, prepared };
    inFlight.set(socket * 256 + id, f);
    if (f.measured) r.measured++;
    r.sent++;
    (sockets[socket] as Socket).send(packet);
    return true;
  };

  const sendOne = (): boolean => {
    const now = hr();
    if (preparedNext < prepared.length) {
      const p = prepared[preparedNext++] as Prepared;
      if (!inFlight.has(p.socket * 256 + p.id)) return send(p.socket, p.id, p.authenticator, p.packet, now, true);
      r.skipped++;
      return false;
    }
    if (job.kind === 'retransmit') {
      for (let k = 0; k < socketCount; k++) {
        const s = (nextSocket + k) % socketCount;
        const p = primed[s];
        if (p && !inFlight.has(s * 256 + (p.packet[1] as number))) {
          nextSocket = (s + 1) % socketCount;
          return send(s, p.packet[1] as number, p.authenticator, p.packet, now);
        }
      }
      r.skipped++;
      return false;
    }
    for (let k = 0; k < socketCount; k++) {
      const s = (nextSocket + k) % socketCount;
      const ids = freeIds[s] as number[];
      if (ids.length === 0) continue;
      nextSocket = (s + 1) % socketCount;
      const id = ids.pop() as number;
      const authenticator = randomBytes(16);
      const packet = build(id, authenticator);
      if (packet === null) {
        ids.push(id);
        r.exhausted++;
        return false;
      }
      return send(s, id, authenticator, packet, now);
    }
    r.skipped++;
    return false;
  };


  if (job.kind === 'retransmit') {
    // Prime: one PAP request per socket, answered once (not measured).
    await Promise.all(
      sockets.map(
        (socket, s) =>
          new Promise<void>((resolve) => {
            const authenticator = randomBytes(16);
            const packet = encodeAccessRequest({ identifier: 7, authenticator, secret, nasIdentifier: 'bench-nas', userName: papUser(s), password: BENCH_PASSWORD });
            const retry = setInterval(() => socket.send(packet), 2000);
            socket.once('message', () => {
              clearInterval(retry);
              primed[s] = { packet, authenticator };
              resolve();
            });
            socket.send(packet);
          }),
      ),
    );
  }

  start = hr();
  warmEnd = start + job.warmup * 1000;
  end = warmEnd + job.seconds * 1000;
  const cpu0 = process.cpuUsage();
  let afterReply: () => void = () => undefined;
  const timers: NodeJS.Timeout[] = [];
  const finished = new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping = true;
      for (const t of timers) clearInterval(t);
      if (inFlight.size === 0) resolve();
      else onDone = resolve;
    };
    timers.push(
      setInterval(() => {
        const now = hr();
        for (const [key, f] of inFlight.entries()) {
          if (now - f.sentAt < timeoutMs) continue;
          r.timeouts++;
          release(key, f);
        }
        if (stopping && inFlight.size === 0) resolve();
      }, 50),
    );
    const hardStop = setTimeout(() => {
      for (const [key, f] of inFlight.entries()) {
        r.timeouts++;
        inFlight.delete(key);
        void f;
      }
      resolve();
    }, end - start + timeoutMs + 1000);
    hardStop.unref();

    if (job.mode === 'closed') {
      const concurrency = job.concurrency ?? 16;
      afterReply = () => {
        if (hr() >= end) return stop();
        if (!sendOne()) setTimeout(() => afterReply(), 20);
      };
      for (let i = 0; i < concurrency; i++) if (!sendOne()) setTimeout(() => afterReply(), 20);
      timers.push(setInterval(() => hr() >= end && stop(), 20));
    } else {
      const rate = job.rate ?? 1000;
      let due = 0;
      const tick = (): void => {
        if (stopping) return;
        const now = hr();
        if (now >= end) return stop();
        const target = Math.floor(((now - start) / 1000) * rate);
        while (due < target) {
          due++;
          sendOne();
        }
        if (job.pacing === 'spin') setImmediate(tick);
        else setTimeout(tick, 1);
      };
      tick();
    }
  });

  await finished;
  const cpu = process.cpuUsage(cpu0);
  for (const s of sockets) s.close();
  const [p50, p90, p99, p999, max] = percentiles(latencies, [50, 90, 99, 99.9, 100]) as number[];
  const seconds = job.seconds;
  return {
    kind: job.kind,
    mode: job.mode,
    ...r,
    seconds,
    rps: r.replies / seconds,
    p50: p50 as number,
    p90: p90 as number,
    p99: p99 as number,
    p999: p999 as number,
    max: max as number,
    cpu: (cpu.user + cpu.system) / 1000 / (hr() - start),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  runLoad(job).then(
    (res) => process.stdout.write(`${JSON.stringify(res)}\n`),
    (err: unknown) => {
      process.stderr.write(`loadgen: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
