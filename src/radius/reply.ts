/**
 * Encoding of replies on the authentication port: Message-Authenticator first (RELIABILITY B7,
 * draft-ietf-radext-deprecating-radius), then the Response Authenticator (RFC 2865 §3).
 */
import { createHash, hash } from 'node:crypto';
import { Attr, HEADER_LENGTH, MAX_ATTRIBUTE_VALUE, MAX_PACKET_LENGTH } from './codes.js';
import { messageAuthenticatorKey } from './ma-key.js';

export interface ReplyOptions {
  code: number;
  identifier: number;
  requestAuthenticator: Buffer;
  secret: Buffer;
  /** Already-encoded TLVs, in order (see `attribute`). */
  attributes: readonly Buffer[];
  /** Proxy-State values to echo, in order (RFC 2865 §5.33). */
  proxyStates: readonly Buffer[];
}

const MA_LENGTH = 18;

/** One TLV. The value must be 1..253 bytes (RFC 2865 §5). */
export function attribute(type: number, value: Buffer | string): Buffer {
  if (!Number.isInteger(type) || type < 1 || type > 255) throw new RangeError('attribute type must be 1..255');
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (v.length < 1 || v.length > MAX_ATTRIBUTE_VALUE) throw new RangeError('attribute value must be 1..253 bytes');
  const out = Buffer.allocUnsafe(v.length + 2);
  out[0] = type;
  out[1] = v.length + 2;
  v.copy(out, 2);
  return out;
}

/** Reply-Message TLVs (RFC 2865 §5.18): chunks of at most 253 bytes, never splitting a UTF-8 character. */
export function replyMessage(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + MAX_ATTRIBUTE_VALUE, bytes.length);
    // Step back over continuation bytes (10xxxxxx) so the cut falls before a lead byte.
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
    out.push(attribute(Attr.ReplyMessage, bytes.subarray(start, end)));
    start = end;
  }
  return out;
}

/** RFC 2865 §3: MD5(Code|ID|Length|RequestAuth|Attributes|Secret), over the whole `reply` buffer. */
export function responseAuthenticator(reply: Buffer, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  return createHash('md5')
    .update(reply.subarray(0, 4))
    .update(requestAuthenticator)
    .update(reply.subarray(HEADER_LENGTH))
    .update(secret)
    .digest();
}

export function encodeReply(opts: ReplyOptions): Buffer {
  const { requestAuthenticator: ra, secret, attributes, proxyStates } = opts;
  if (ra.length !== 16) throw new RangeError('request authenticator must be 16 bytes');
  let length = HEADER_LENGTH + MA_LENGTH;
  for (const a of attributes) {
    if (a.length < 2 || a[1] !== a.length) throw new RangeError('attribute is not a single encoded TLV');
    length += a.length;
  }
  for (const p of proxyStates) {
    if (p.length > MAX_ATTRIBUTE_VALUE) throw new RangeError('Proxy-State value above 253 bytes');
    length += p.length + 2;
  }
  if (length > MAX_PACKET_LENGTH) throw new RangeError('reply would exceed 4096 bytes');

  // The secret goes right after the reply so the Response Authenticator is one MD5 call; the
  // tail is wiped afterwards and the returned view excludes it.
  const whole = Buffer.allocUnsafe(length + secret.length);
  const buf = whole.subarray(0, length);
  buf.writeUInt8(opts.code, 0);
  buf.writeUInt8(opts.identifier, 1);
  buf.writeUInt16BE(length, 2);
  ra.copy(buf, 4); // the request authenticator stands in while MA and the Response Authenticator are computed
  buf[20] = Attr.MessageAuthenticator;
  buf[21] = MA_LENGTH;
  buf.fill(0, 22, 38);
  let pos = HEADER_LENGTH + MA_LENGTH;
  for (const a of attributes) pos += a.copy(buf, pos);
  for (const p of proxyStates) {
    buf[pos] = Attr.ProxyState;
    buf[pos + 1] = p.length + 2;
    pos += 2 + p.copy(buf, pos + 2);
  }
  // RFC 3579 §3.2: HMAC-MD5 over the reply with MA zeroed and the request authenticator in place.
  const key = messageAuthenticatorKey(secret);
  buf.copy(key.messageBuffer(length));
  key.macInto(length, buf, 22);
  // RFC 2865 §3, computed after MA: bytes 4..19 still hold the request authenticator.
  secret.copy(whole, length);
  buf.write(hash('md5', whole, 'binary'), 4, 'latin1'); // a string: no ArrayBuffer per digest
  whole.fill(0, length);
  return buf;
}
