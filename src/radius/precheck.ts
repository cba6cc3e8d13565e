/**
 * Structural check of a datagram received on the authentication port, before any decoding,
 * and verification of its Message-Authenticator. Pure, no allocation beyond the result.
 * RFC 2865 §3 and §5, RFC 3579 §3.2, RFC 5997 §3, RELIABILITY.md R2–R4, B1–B6.
 */
import { timingSafeEqual } from 'node:crypto';
import { Attr, Code, HEADER_LENGTH, MAX_PACKET_LENGTH } from './codes.js';
import { messageAuthenticatorKey } from './ma-key.js';

/** Why a datagram fails the structural check. Identical to the names in DROP_REASONS (src/audit/event.ts). */
export type PrecheckFailure =
  | 'short-packet'
  | 'too-long'
  | 'length-mismatch'
  | 'bad-attribute'
  | 'too-many-attributes'
  | 'bad-code'
  | 'ma-bad-length';

export interface PacketView {
  code: number;
  identifier: number;
  /** The Length field; the packet is `datagram.subarray(0, length)`, the rest is padding. */
  length: number;
  /** Byte offset of the Message-Authenticator's 16-byte value, -1 if absent. */
  maOffset: number;
  hasEap: boolean;
  hasProxyState: boolean;
  attributeCount: number;
}

export type PrecheckResult = { ok: true; view: PacketView } | { ok: false; reason: PrecheckFailure };

const fail = (reason: PrecheckFailure): PrecheckResult => ({ ok: false, reason });

/**
 * One pass over the header and the attribute headers. Only Access-Request and Status-Server are
 * accepted: this is the authentication port (RELIABILITY R3).
 */
export function precheck(datagram: Buffer, maxAttributes = 128): PrecheckResult {
  // RFC 2865 §3: a packet shorter than 20 bytes, or whose Length is below 20, is discarded.
  if (datagram.length < HEADER_LENGTH) return fail('short-packet');
  const length = (datagram[2]! << 8) | datagram[3]!;
  if (length < HEADER_LENGTH) return fail('short-packet');
  if (length > MAX_PACKET_LENGTH) return fail('too-long');
  // Length larger than the datagram: discard. Bytes after Length are padding, ignored.
  if (length > datagram.length) return fail('length-mismatch');
  const code = datagram[0]!;
  if (code !== Code.AccessRequest && code !== Code.StatusServer) return fail('bad-code');

  let maOffset = -1;
  let hasEap = false;
  let hasProxyState = false;
  let count = 0;
  let pos = HEADER_LENGTH;
  // Attributes must fill Length exactly (RELIABILITY R4, FreeRADIUS rad_packet_ok).
  while (pos < length) {
    if (pos + 2 > length) return fail('bad-attribute');
    const type = datagram[pos]!;
    const alen = datagram[pos + 1]!;
    if (type === 0 || alen < 2 || pos + alen > length) return fail('bad-attribute');
    if (++count > maxAttributes) return fail('too-many-attributes');
    if (type === Attr.MessageAuthenticator) {
      if (alen !== 18) return fail('ma-bad-length'); // B4
      if (maOffset !== -1) return fail('bad-attribute'); // RFC 3579 §3.2: at most one
      maOffset = pos + 2;
    } else if (type === Attr.EapMessage) {
      hasEap = true;
    } else if (type === Attr.ProxyState) {
      hasProxyState = true;
    }
    pos += alen;
  }
  return {
    ok: true,
    view: { code, identifier: datagram[1]!, length, maOffset, hasEap, hasProxyState, attributeCount: count },
  };
}

/** The computed MA of the packet being checked (the check is synchronous: one at a time). */
const MAC = Buffer.alloc(16);

/** Outcome of the Message-Authenticator check; every value but 'ok' means discard. */
export type MaCheck = 'ok' | 'ma-missing' | 'ma-invalid' | 'eap-without-ma' | 'proxy-state-without-ma';

/**
 * RFC 3579 §3.2: MA = HMAC-MD5(secret, packet with the MA value zeroed), the Request Authenticator
 * in place. Where MA sits in the request is not checked (B2). `required` is the client's effective
 * require_message_authenticator (B1); with it off, Proxy-State without MA is refused (B6,
 * limit_proxy_state). EAP-Message (B5) and Status-Server (RFC 5997 §3) always need MA.
 * `packet` holds at least `view.length` bytes; only those are read, none is written.
 */
export function checkMessageAuthenticator(packet: Buffer, view: PacketView, secret: Buffer, required: boolean): MaCheck {
  if (packet.length < view.length) throw new RangeError('packet is shorter than view.length');
  const off = view.maOffset;
  if (off !== -1) {
    // HMAC over a copy of the packet with a zero block in place of the MA value.
    const key = messageAuthenticatorKey(secret);
    const message = key.messageBuffer(view.length);
    packet.copy(message, 0, 0, view.length);
    message.fill(0, off, off + 16);
    key.macInto(view.length, MAC, 0);
    return timingSafeEqual(MAC, packet.subarray(off, off + 16)) ? 'ok' : 'ma-invalid';
  }
  if (view.hasEap) return 'eap-without-ma';
  if (view.code === Code.StatusServer) return 'ma-missing';
  if (required) return 'ma-missing';
  if (view.hasProxyState) return 'proxy-state-without-ma';
  return 'ok';
}
