/**
 * The client side of the wire format, for our test client and the benchmark's load generator:
 * encode an Access-Request / Status-Server, verify a reply (RFC 2865 §3, RFC 3579 §3.2).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Attr, Code, HEADER_LENGTH, MAX_PACKET_LENGTH } from './codes.js';
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

/**
 * ok: the Response Authenticator is right AND exactly one Message-Authenticator is present and
 * valid (like `radclient -b`). maFirst: Message-Authenticator is the first attribute.
 */
export function verifyReply(reply: Buffer, requestAuthenticator: Buffer, secret: Buffer): { ok: boolean; maFirst: boolean } {
  const attrs = walk(reply);
  if (!attrs || requestAuthenticator.length !== 16) return { ok: false, maFirst: false };
  const packet = reply.subarray(0, reply.readUInt16BE(2));
  const mas = attrs.filter((a) => a.type === Attr.MessageAuthenticator);
  const maFirst = attrs[0]?.type === Attr.MessageAuthenticator;
  const ma = mas[0];
  if (mas.length !== 1 || ma!.value.length !== 16) return { ok: false, maFirst };
  const off = ma!.value.byteOffset - packet.byteOffset;
  const expectedMa = createHmac('md5', secret)
    .update(packet.subarray(0, 4))
    .update(requestAuthenticator)
    .update(packet.subarray(HEADER_LENGTH, off))
    .update(ZERO16)
    .update(packet.subarray(off + 16))
    .digest();
  const expectedRa = createHash('md5')
    .update(packet.subarray(0, 4))
    .update(requestAuthenticator)
    .update(packet.subarray(HEADER_LENGTH))
    .update(secret)
    .digest();
  const ok = timingSafeEqual(expectedMa, ma!.value) && timingSafeEqual(expectedRa, packet.subarray(4, HEADER_LENGTH));
  return { ok, maFirst };
}
