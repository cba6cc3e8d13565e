/**
 * One datagram in, at most one datagram out. The order follows RFC 2865 §3 and RFC 3579 §3.2:
 * client lookup → precheck → Message-Authenticator → duplicate check → decision → reply.
 * Sockets are not touched here (server.ts sends), so every path is testable with plain buffers.
 */
import type { AuditSink, DecisionResult, DenialReason, DropReason, AuthMode } from '../audit/event.js';
import { HashQueueTimeout, type Decision, type AuthMethod } from '../auth/decision.js';
import { Attr, Code } from '../radius/codes.js';
import { checkMessageAuthenticator, precheck, type PacketView } from '../radius/precheck.js';
import { attribute, encodeReply, replyMessage } from '../radius/reply.js';
import { parseAccessRequest, type AccessRequest, type AccessRequestProblem } from '../radius/request.js';
import type { Client, ClientTable } from './clients.js';
import type { DuplicateCache } from './dedup.js';

/** What the handler reports to metrics (src/audit/metrics.ts implements it). */
export interface MetricsSink {
  request(code: number): void;
  decision(result: DecisionResult, reason: DenialReason | undefined, mode: AuthMode, seconds: number): void;
  drop(reason: DropReason): void;
  pending(n: number): void;
}

export interface Decider {
  decide(req: {
    userName: string;
    password: Buffer | undefined;
    state: Buffer | undefined;
    method: AuthMethod;
    client: string;
    primary: Client['primary'];
  }): Promise<Decision>;
}

export interface HandlerDeps {
  clients: () => ClientTable;
  dedup: DuplicateCache;
  decider: Decider;
  /** Reply attributes for an Access-Accept ([[reply]] rules), already encoded. */
  replyAttributes: (user: string, groups: readonly string[]) => readonly Buffer[];
  /** Where each decision is recorded (the edge owns the sink and closes it). */
  audit: Pick<AuditSink, 'record'>;
  metrics: MetricsSink;
  /** A dropped datagram: the caller rate-limits the log line. */
  onDrop: (reason: DropReason, peer: Peer, client: string) => void;
  /** A request rejected as malformed (audit reason bad-request): the caller rate-limits the log line that says what was wrong. */
  onBadRequest: (problem: AccessRequestProblem, peer: Peer, client: string) => void;
  /** An auto client's policy was decided by its first Access-Request (RELIABILITY B8). */
  onMaDecided: (client: Client, peer: Peer) => void;
  /** A fault inside the decision (store error, bug): the request is rejected. */
  onError: (err: unknown) => void;
  server: { name: string };
  limits: { maxPending: number; maxPendingPerClient: number };
  /** Unix time in milliseconds (the audit line's time). */
  now: () => number;
}

export interface Peer {
  address: string;
  port: number;
  /** Index of the receiving socket (part of the duplicate key) and its local address. */
  socket: number;
  localAddress: string;
}

const REPLY_CODE: Record<DecisionResult, number> = {
  accept: Code.AccessAccept,
  reject: Code.AccessReject,
  challenge: Code.AccessChallenge,
};

export class RequestHandler {
  private pending = 0;
  /**
   * Requests being decided, by client name. An entry stays at 0 rather than being deleted: a
   * Map that empties and fills again reallocates its table each time, and V8 allocates the new
   * table of a long-lived Map directly in old space (OrderedHashTable::Rehash). Deleting here
   * grew the old generation by ~1.6 MB/s at 14,000 requests/s (~0.1 MB/s without), and so
   * brought major GCs, each a stall of 10-20 ms, twice as often. Names come from the configured
   * clients, so the Map stays small.
   */
  private readonly pendingByClient = new Map<string, number>();
  /** Of `pending`, those decided and audited whose answer waits (Decision answerAfter). */
  private waiting = 0;
  /** Set by abandon(): decisions that end from now on are dropped. */
  private abandoned = false;
  /** The last audit time written, by whole millisecond: a burst of decisions shares one string. */
  private isoMs = Number.NaN;
  private iso = '';

  constructor(private readonly deps: HandlerDeps) {}

  get pendingCount(): number {
    return this.pending;
  }

  /**
   * The server stops without waiting any longer: each decision still under way is dropped when it
   * ends (hashing stopped or not), with no reply, audit line or error line; the NAS retries, on
   * another server if it has one (RFC 2865 §2.4). Returns how many are dropped so.
   */
  abandon(): number {
    this.abandoned = true;
    return this.pending - this.waiting;
  }

  /** Returns the reply to send, or null when the datagram is dropped. */
  async handle(datagram: Buffer, peer: Peer): Promise<Buffer | null> {
    const d = this.deps;
    const client = d.clients().lookup(peer.address);
    if (client === null) return this.drop('unknown-client', peer, '');
    const pre = precheck(datagram);
    if (!pre.ok) return this.drop(pre.reason, peer, client.name);
    const { view } = pre;
    const packet = datagram.length === view.length ? datagram : datagram.subarray(0, view.length);
    const ma = checkMessageAuthenticator(packet, view, client.secret, client.ma === 'yes');
    if (ma !== 'ok') return this.drop(ma, peer, client.name);
    if (client.ma === 'auto') this.settleAuto(client, view, peer);
    d.metrics.request(view.code);

    const authenticator = packet.subarray(4, 20);
    const hit = d.dedup.begin(peer, view.identifier, authenticator);
    if (hit.kind === 'replay') return hit.reply;
    if (hit.kind === 'in-progress') return this.drop('duplicate-in-progress', peer, client.name);

    const perClient = this.pendingByClient.get(client.name) ?? 0;
    if (this.pending >= d.limits.maxPending || perClient >= d.limits.maxPendingPerClient) {
      d.dedup.abandon(peer, view.identifier, authenticator);
      return this.drop('overload', peer, client.name);
    }

    const started = performance.now();
    const req = parseAccessRequest(packet, client.secret);
    let reply: Buffer;
    if (view.code === Code.StatusServer) {
      // RFC 5997 §3: Access-Accept, no decision, no side effects.
      reply = this.encode(Code.AccessAccept, req, client, []);
    } else {
      this.pending++;
      this.pendingByClient.set(client.name, perClient + 1);
      d.metrics.pending(this.pending);
      let answer: Buffer;
      try {
        const decision = await this.decide(req, client, peer);
        if (req.password !== undefined) req.password.fill(0);
        if (this.abandoned) return null;
        if (decision === null) {
          // Not answered, and forgotten so that a retransmission is decided afresh (as for overload).
          d.dedup.abandon(peer, view.identifier, authenticator);
          return this.drop('hash-queue-timeout', peer, client.name);
        }
        answer = this.record(decision, req, client, peer, started);
        if (decision.result === 'reject' && decision.answerAfter !== undefined) {
          // Decided and audited: answered after the wait even if the server stops meanwhile.
          this.waiting++;
          try {
            await decision.answerAfter;
          } catch {
            // Its check waited too long for a thread (HashQueueTimeout): unanswered, as a wrong
            // password's would be. Not forgotten by dedup: a retransmission is no new failure.
            return this.drop('hash-queue-timeout', peer, client.name);
          } finally {
            this.waiting--;
          }
        }
      } finally {
        this.pending--;
        this.pendingByClient.set(client.name, (this.pendingByClient.get(client.name) as number) - 1);
        d.metrics.pending(this.pending);
      }
      reply = answer;
    }
    d.dedup.finish(peer, view.identifier, authenticator, reply);
    return reply;
  }

  /** The reply to a decision, its metrics and its audit line. */
  private record(decision: Decision, req: AccessRequest, client: Client, peer: Peer, started: number): Buffer {
    const d = this.deps;
    const reply = this.encode(REPLY_CODE[decision.result], req, client, this.attributesOf(decision));
    const reason = decision.result === 'reject' ? decision.reason : undefined;
    d.metrics.decision(decision.result, reason, decision.mode, (performance.now() - started) / 1e3);
    d.audit.record({
      event: 'decision',
      time: this.isoNow(),
      server: d.server.name,
      server_ip: peer.localAddress,
      client: client.name,
      client_ip: peer.address,
      user: decision.user,
      calling_station_id: req.callingStationId ?? '',
      nas_identifier: req.nasIdentifier ?? '',
      mode: decision.mode,
      token_serial: decision.tokenSerial,
      result: decision.result,
      ...(reason === undefined ? {} : { reason }),
    });
    return reply;
  }

  private isoNow(): string {
    const ms = Math.floor(this.deps.now());
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }

  /**
   * Never rejects: a fault inside the decision is reported and answered with an Access-Reject.
   * Null when the password check waited too long for hashing (HashQueueTimeout): no answer.
   */
  private decide(req: AccessRequest, client: Client, peer: Peer): Promise<Decision | null> {
    const user = req.userName ?? '';
    if (req.problem !== undefined) {
      this.deps.onBadRequest(req.problem, peer, client.name);
      return Promise.resolve({ result: 'reject', mode: 'unknown', user, tokenSerial: '', reason: 'bad-request' });
    }
    const method: AuthMethod = req.hasEap ? 'eap' : req.hasMsChap ? 'mschap' : req.hasChapPassword ? 'chap' : 'pap';
    let decided: Promise<Decision>;
    try {
      decided = this.deps.decider.decide({
        userName: user,
        password: req.password,
        state: req.state,
        method,
        client: client.name,
        primary: client.primary,
      });
    } catch (err) {
      decided = Promise.reject(err as Error);
    }
    // Not an async function (fewer allocations per request, as in auth/pipeline.ts decide).
    return decided.catch((err: unknown): Decision | null => {
      if (err instanceof HashQueueTimeout) return null;
      if (!this.abandoned) this.deps.onError(err);
      return { result: 'reject', mode: 'unknown', user, tokenSerial: '', reason: 'internal-error' };
    });
  }

  private attributesOf(decision: Decision): readonly Buffer[] {
    switch (decision.result) {
      case 'accept':
        return this.deps.replyAttributes(decision.user, decision.groups);
      case 'challenge':
        return [attribute(Attr.State, decision.state), ...replyMessage(decision.replyMessage)];
      case 'reject':
        return decision.replyMessage === undefined ? [] : replyMessage(decision.replyMessage);
    }
  }

  private encode(code: number, req: AccessRequest, client: Client, attributes: readonly Buffer[]): Buffer {
    return encodeReply({
      code,
      identifier: req.identifier,
      requestAuthenticator: req.authenticator,
      secret: client.secret,
      attributes,
      proxyStates: req.proxyStates,
    });
  }

  /**
   * RELIABILITY B8 (FreeRADIUS's auto): an auto client's first Access-Request to pass the checks
   * decides, for the life of the process: with Message-Authenticator the client must always send
   * it, without it it need not. One with EAP-Message says nothing (EAP always carries it, RFC 3579
   * §3.2), nor does Status-Server (RFC 5997 §3).
   */
  private settleAuto(client: Client, view: PacketView, peer: Peer): void {
    if (view.code !== Code.AccessRequest || view.hasEap) return;
    client.ma = view.maOffset === -1 ? 'no' : 'yes';
    this.deps.onMaDecided(client, peer);
  }

  private drop(reason: DropReason, peer: Peer, client: string): null {
    this.deps.metrics.drop(reason);
    this.deps.onDrop(reason, peer, client);
    return null;
  }
}
