/**
 * The client side of the wire format, for our test client and the benchmark's load generator:
 * encode an Access-Request / Status-Server, verify a reply (RFC 2865 §3, RFC 3579 §3.2).
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { Attr, Code, HEADER_LENGTH, MAX_PACKET_LENGTH } from './codes.js';
import { messageAuthenticatorKey } from './ma-key.js';
import { attribute } from './reply.js';
import { encryptUserPassword } from './request.js';

export interface AccessRequestOptions {
  /** Default Access-Request; Status-Server allowed. */
  code?: number;
  identifier: number;
  authenticator: Buffer;
  secret: Buffer;
  userName?: string;
  password?: string | Buffer;
  state?: Buffer;
  nasIdentifier?: string;
  /** Raw TLVs, appended after the attributes above. */
  extra?: readonly Buffer[];
  /** Where Message-Authenticator goes; default 'first'. */
  messageAuthenticator?: 'first' | 'last' | 'none';
}

const ZERO16 = Buffer.alloc(16);
const MA_TEMPLATE = Buffer.from([Attr.MessageAuthenticator, 18, ...ZERO16]);

export function encodeAccessRequest(opts: AccessRequestOptions): Buffer {
  const code = opts.code ?? Code.AccessRequest;
  if (code !== Code.AccessRequest && code !== Code.StatusServer) throw new RangeError('code must be Access-Request or Status-Server');
  if (opts.authenticator.length !== 16) throw new RangeError('authenticator must be 16 bytes');
  const where = opts.messageAuthenticator ?? 'first';
  const attrs: Buffer[] = [];
  if (where === 'first') attrs.push(MA_TEMPLATE);
  if (opts.userName !== undefined) attrs.push(attribute(Attr.UserName, opts.userName));
  if (opts.password !== undefined) {
    const pw = typeof opts.password === 'string' ? Buffer.from(opts.password, 'utf8') : opts.password;
    attrs.push(attribute(Attr.UserPassword, encryptUserPassword(pw, opts.secret, opts.authenticator)));
  }
  if (opts.state !== undefined) attrs.push(attribute(Attr.State, opts.state));
  if (opts.nasIdentifier !== undefined) attrs.push(attribute(Attr.NasIdentifier, opts.nasIdentifier));
  if (opts.extra) attrs.push(...opts.extra);
  if (where === 'last') attrs.push(MA_TEMPLATE);

  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  const packet = Buffer.concat([header, ...attrs]);
  if (packet.length > MAX_PACKET_LENGTH) throw new RangeError('request would exceed 4096 bytes');
  packet.writeUInt8(code, 0);
  packet.writeUInt8(opts.identifier, 1);
  packet.writeUInt16BE(packet.length, 2);
  opts.authenticator.copy(packet, 4);
  if (where !== 'none') {
    const off = where === 'first' ? HEADER_LENGTH + 2 : packet.length - 16;
    createHmac('md5', opts.secret).update(packet).digest().copy(packet, off); // MA value is still zero here
  }
  return packet;
}

/** Walks the attributes; null when they do not exactly fill the Length field. */
function walk(packet: Buffer): Array<{ type: number; value: Buffer }> | null {
  if (packet.length < HEADER_LENGTH) return null;
  const length = packet.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > packet.length) return null;
  const out: Array<{ type: number; value: Buffer }> = [];
  let pos = HEADER_LENGTH;
  while (pos < length) {
    const alen = pos + 1 < length ? packet[pos + 1]! : 0;
    if (alen < 2 || pos + alen > length) return null;
    out.push({ type: packet[pos]!, value: packet.subarray(pos + 2, pos + alen) });
    pos += alen;
  }
  return out;
}

/** The attributes of a packet, in order, as views into it. Throws RangeError when malformed. */
export function readAttributes(packet: Buffer): Array<{ type: number; value: Buffer }> {
  const attrs = walk(packet);
  if (!attrs) throw new RangeError('malformed RADIUS packet');
  return attrs;
}

/** verifyReply's scratch: the reply then the secret (RFC 2865 §3), grown when a longer one comes. */
let whole = Buffer.alloc(MAX_PACKET_LENGTH + 64);
const computedMa = Buffer.alloc(16);
const computedRa = Buffer.alloc(16);

/**
 * ok: the Response Authenticator is right AND exactly one Message-Authenticator is present and
 * valid (like `radclient -b`). maFirst: Message-Authenticator is the first attribute.
 * Allocates no ArrayBuffer and no hash object (the load generator checks every reply with it,
 * and what it allocates per reply is what its garbage collector pauses for).
 */
export function verifyReply(reply: Buffer, requestAuthenticator: Buffer, secret: Buffer): { ok: boolean; maFirst: boolean } {
  if (reply.length < HEADER_LENGTH || requestAuthenticator.length !== 16) return { ok: false, maFirst: false };
  const length = reply.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > reply.length) return { ok: false, maFirst: false };
  let ma = -1;
  let mas = 0;
  for (let pos = HEADER_LENGTH; pos < length; ) {
    const alen = pos + 1 < length ? reply[pos + 1]! : 0;
    if (alen < 2 || pos + alen > length) return { ok: false, maFirst: false };
    if (reply[pos] === Attr.MessageAuthenticator) {
      mas++;
      ma = pos;
    }
    pos += alen;
  }
  const maFirst = length > HEADER_LENGTH && reply[HEADER_LENGTH] === Attr.MessageAuthenticator;
  if (mas !== 1 || reply[ma + 1] !== 18) return { ok: false, maFirst };
  const off = ma + 2;
  // RFC 3579 §3.2: HMAC-MD5 over the reply, its MA value zeroed and the request authenticator in place.
  const key = messageAuthenticatorKey(secret);
  const message = key.messageBuffer(length);
  reply.copy(message, 0, 0, length);
  requestAuthenticator.copy(message, 4);
  message.fill(0, off, off + 16);
  key.macInto(length, computedMa, 0);
  // RFC 2865 §3: MD5(Code+Identifier+Length+RequestAuth+Attributes+Secret).
  const end = length + secret.length;
  if (whole.length < end) whole = Buffer.alloc(end);
  reply.copy(whole, 0, 0, length);
  requestAuthenticator.copy(whole, 4);
  secret.copy(whole, length);
  computedRa.write(hash('md5', whole.subarray(0, end), 'binary'), 0, 'latin1');
  whole.fill(0, length, end);
  const ok = timingSafeEqual(computedMa, reply.subarray(off, off + 16)) && timingSafeEqual(computedRa, reply.subarray(4, HEADER_LENGTH));
  return { ok, maFirst };
}
