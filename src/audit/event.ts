/**
 * Typed audit events. The core returns what happened; the edge (server/) turns it into one of
 * these and hands it to an AuditSink. No field ever holds a password, a code, a secret or a key.
 */

/** Why a request was rejected. A closed set: reports group by it. */
export const DENIAL_REASONS = [
  'wrong-password',
  'wrong-code',
  'replayed-code',
  'locked',
  'disabled-token',
  'expired-token',
  'disabled-user',
  'unknown-user',
  'no-token',
  'expired-state',
  'unknown-state',
  'unsupported-method',
  'directory-unavailable',
  'bad-request',
  'internal-error',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

/** Why a datagram was dropped without an answer (RELIABILITY.md §1–2). */
export const DROP_REASONS = [
  'unknown-client',
  'short-packet',
  'too-long',
  'length-mismatch',
  'bad-attribute',
  'too-many-attributes',
  'bad-code',
  'ma-missing',
  'ma-invalid',
  'ma-bad-length',
  'eap-without-ma',
  'proxy-state-without-ma',
  'duplicate-in-progress',
  'overload',
  'hash-queue-timeout',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** How the user came in (SPEC: audit record `mode`). */
export type AuthMode = 'password+otp' | 'challenge' | 'otp' | 'app-password' | 'password' | 'unknown';

export type DecisionResult = 'accept' | 'reject' | 'challenge';

export interface DecisionEvent {
  event: 'decision';
  time: string; // ISO 8601
  server: string;
  server_ip: string;
  client: string;
  client_ip: string;
  user: string;
  calling_station_id: string;
  nas_identifier: string;
  mode: AuthMode;
  token_serial: string;
  result: DecisionResult;
  /** Present on every reject, absent otherwise. */
  reason?: DenialReason;
}

export interface DropEvent {
  event: 'drop';
  time: string;
  server: string;
  server_ip: string;
  /** Client name when the source address matched one. */
  client: string;
  client_ip: string;
  reason: DropReason;
  /**
   * Drops of this source and reason left out of the log before this one ([log]
   * drop_log_per_second): the line stands for 1 + suppressed. Absent when 0.
   */
  suppressed?: number;
}

export type AuditEvent = DecisionEvent | DropEvent;

/**
 * Where audit events go. record() must never wait for I/O: the file sink (audit-log.ts) only
 * formats the line there and writes its batches later, from a timer.
 */
export interface AuditSink {
  record(event: AuditEvent): void;
  /** Flush and close; resolves when every line is on disk. */
  close(): Promise<void>;
}
