/**
 * The outcome of one Access-Request: a closed union. server/ maps it to a reply with one table
 * (accept → Access-Accept, reject → Access-Reject, challenge → Access-Challenge); anything
 * unexpected is a reject (ARCHITECTURE pattern 2).
 */
import type { AuthMode, DenialReason } from '../audit/event.js';

export type Decision =
  | { result: 'accept'; mode: AuthMode; user: string; tokenSerial: string; groups: readonly string[] }
  | {
      result: 'reject';
      mode: AuthMode;
      user: string;
      tokenSerial: string;
      reason: DenialReason;
      replyMessage?: string;
      /**
       * Decided (and audited) now, answered once this settles: work spent so that this Reject
       * takes as long as others that say less (RELIABILITY O10). Rejects only with
       * HashQueueTimeout: then no answer goes out, as for a wrong password whose check waited
       * too long (and a retransmission is not decided again: its failure is counted already).
       */
      answerAfter?: Promise<void>;
    }
  | { result: 'challenge'; mode: 'challenge'; user: string; tokenSerial: string; state: Buffer; replyMessage: string };

export type AuthMethod = 'pap' | 'chap' | 'mschap' | 'eap' | 'none';

/** What the pipeline needs of an Access-Request (already checked on the wire by radius/). */
export interface AuthRequest {
  userName: string;
  /** Decrypted User-Password bytes; undefined when the request carries none. */
  password: Buffer | undefined;
  state: Buffer | undefined;
  method: AuthMethod;
  /** Name of the NAS client the request came from. */
  client: string;
  /** The primary credential this client uses ([auth] primary, or the client's override). */
  primary: 'local' | 'ldap' | 'none';
}

export const reject = (user: string, mode: AuthMode, reason: DenialReason, tokenSerial = '', replyMessage?: string): Decision =>
  replyMessage === undefined
    ? { result: 'reject', mode, user, tokenSerial, reason }
    : { result: 'reject', mode, user, tokenSerial, reason, replyMessage };

/**
 * The request's password check waited too long for a hashing thread (auth/passwords.ts
 * MAX_HASH_WAIT_MS): it is not answered, so that the NAS retransmits it or fails over to another
 * server. A Reject would tell it, and the user, that the password was wrong.
 */
export class HashQueueTimeout extends Error {
  readonly code = 'hash-queue-timeout';
  constructor() {
    super('the password check waited too long for a hashing thread');
  }
}
