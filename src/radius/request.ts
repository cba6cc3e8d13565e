/**
 * Decoding of an Access-Request (RFC 2865 §4.1, §5) in one pass over its attributes.
 *
 * Call it only on a packet that passed `precheck` and `checkMessageAuthenticator`, sliced to
 * `view.length`. `authenticator`, `state` and `proxyStates` are views into that buffer, not
 * copies: the receive buffer must not be reused until the request is done (reply sent). The
 * decrypted password is a fresh buffer the caller may zero after use.
 */
import { hash } from 'node:crypto';
import { Attr, HEADER_LENGTH, MsChapAttr, VendorMicrosoft } from './codes.js';

export type AccessRequestProblem = 'bad-password-length' | 'password-and-chap' | 'no-credentials' | 'no-nas-id' | 'no-user-name';

/** What each problem means, for the log line an administrator reads (never a value from the packet). */
export const PROBLEM_TEXT: Record<AccessRequestProblem, string> = {
  'bad-password-length': 'User-Password is not 16 to 128 bytes in steps of 16 (RFC 2865 §5.2)',
  'password-and-chap': 'both User-Password and CHAP-Password (RFC 2865 §4.1)',
  'no-credentials': 'no User-Password, CHAP-Password, State, EAP-Message or MS-CHAP attribute (RFC 2865 §4.1)',
  'no-nas-id': 'no NAS-IP-Address, NAS-IPv6-Address or NAS-Identifier (RFC 2865 §4.1, RFC 3162 §2.1)',
  'no-user-name': 'no User-Name, or an empty one: nobody to authenticate (RFC 2865 §5.1)',
};

export interface AccessRequest {
  code: number;
  identifier: number;
  authenticator: Buffer;
  userName?: string;
  /** User-Password decrypted per RFC 2865 §5.2, trailing NUL padding stripped. */
  password?: Buffer;
  hasChapPassword: boolean;
  hasEap: boolean;
  hasMsChap: boolean;
  state?: Buffer;
  nasIdentifier?: string;
  /** Dotted IPv4; set only when NAS-IP-Address has its 4-byte length. Only the first of each string attribute is kept. */
  nasIpAddress?: string;
  callingStationId?: string;
  proxyStates: Buffer[];
  /**
   * RFC 2865 §4.1/§5.2/§5.3, RELIABILITY R5: the server answers Access-Reject. A User-Password that
   * is not 16..128 bytes in steps of 16, or a CHAP-Password that is not 19 bytes, gives
   * 'bad-password-length'. At most one problem is reported, in the order of the union.
   */
  problem?: AccessRequestProblem;
}

/** MS-CHAP vendor types of RFC 2548. */
const MS_CHAP_TYPES = new Set<number>(Object.values(MsChapAttr));

/** True when a Vendor-Specific value (RFC 2865 §5.26) holds a Microsoft MS-CHAP sub-attribute. */
function isMsChap(p: Buffer, start: number, end: number): boolean {
  if (end - start < 6 || p.readUInt32BE(start) !== VendorMicrosoft) return false;
  let pos = start + 4;
  while (pos + 2 <= end) {
    const vlen = p[pos + 1]!;
    if (vlen < 2 || pos + vlen > end) return false;
    if (MS_CHAP_TYPES.has(p[pos]!)) return true;
    pos += vlen;
  }
  return false;
}

/**
 * RFC 2865 §5.2: b1 = MD5(S + RA), c(1) = p1 xor b1; b(i) = MD5(S + c(i-1)), c(i) = p(i) xor b(i).
 * `decrypt`: true chains on the input (ciphertext), false chains on the output (encryption).
 */
function passwordCipher(input: Buffer, secret: Buffer, authenticator: Buffer, decrypt: boolean): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  const scratch = Buffer.allocUnsafe(secret.length + 16);
  secret.copy(scratch, 0);
  let prev = authenticator;
  for (let off = 0; off < input.length; off += 16) {
    prev.copy(scratch, secret.length, 0, 16);
    const b = hash('md5', scratch, 'binary'); // a string, a char a byte: no ArrayBuffer per block
    for (let j = 0; j < 16; j++) out[off + j] = input[off + j]! ^ b.charCodeAt(j);
    prev = decrypt ? input.subarray(off, off + 16) : out.subarray(off, off + 16);
  }
  return out;
}

/** The inverse of the decoding in parseAccessRequest: NUL-pad to a multiple of 16, then encrypt. */
export function encryptUserPassword(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  if (password.length > 128) throw new RangeError('User-Password is limited to 128 bytes');
  if (authenticator.length !== 16) throw new RangeError('authenticator must be 16 bytes');
  const padded = Buffer.alloc(Math.max(16, (password.length + 15) & ~15));
  password.copy(padded);
  return passwordCipher(padded, secret, authenticator, false);
}

export function parseAccessRequest(packet: Buffer, secret: Buffer): AccessRequest {
  if (packet.length < HEADER_LENGTH) throw new RangeError('packet shorter than a RADIUS header');
  // The Length field bounds the attributes even if trailing padding was passed in.
  const end = Math.min(packet.length, packet.readUInt16BE(2));
  const authenticator = packet.subarray(4, 20);
  const req: AccessRequest = {
    code: packet[0]!,
    identifier: packet[1]!,
    authenticator,
    hasChapPassword: false,
    hasEap: false,
    hasMsChap: false,
    proxyStates: [],
  };
  let pwStart = -1;
  let pwLen = 0;
  let badLength = false;
  let nasId = false;
  let pos = HEADER_LENGTH;
  while (pos + 2 <= end) {
    const type = packet[pos]!;
    const alen = packet[pos + 1]!;
    if (alen < 2 || pos + alen > end) break; // precheck refuses this; never read past the packet
    const v = pos + 2;
    const vend = pos + alen;
    switch (type) {
      case Attr.UserName:
        req.userName ??= packet.toString('utf8', v, vend);
        break;
      case Attr.UserPassword:
        if (pwStart === -1) {
          pwStart = v;
          pwLen = alen - 2;
          if (pwLen < 16 || pwLen > 128 || (pwLen & 15) !== 0) badLength = true;
        }
        break;
      case Attr.ChapPassword:
        req.hasChapPassword = true;
        if (alen !== 19) badLength = true; // RFC 2865 §5.3: CHAP Ident + 16-byte response
        break;
      // A NAS identification counts only with a well-formed value (RFC 2865 §5.4, §5.32; RFC 3162 §2.1).
      case Attr.NasIpAddress:
        if (alen === 6) {
          nasId = true;
          req.nasIpAddress ??= `${packet[v]}.${packet[v + 1]}.${packet[v + 2]}.${packet[v + 3]}`;
        }
        break;
      case Attr.NasIdentifier:
        if (alen > 2) {
          nasId = true;
          req.nasIdentifier ??= packet.toString('utf8', v, vend);
        }
        break;
      case Attr.NasIpv6Address:
        if (alen === 18) nasId = true;
        break;
      case Attr.State:
        req.state ??= packet.subarray(v, vend);
        break;
      case Attr.CallingStationId:
        req.callingStationId ??= packet.toString('utf8', v, vend);
        break;
      case Attr.ProxyState:
        req.proxyStates.push(packet.subarray(v, vend));
        break;
      case Attr.EapMessage:
        req.hasEap = true;
        break;
      case Attr.VendorSpecific:
        if (!req.hasMsChap && isMsChap(packet, v, vend)) req.hasMsChap = true;
        break;
    }
    pos = vend;
  }
  const hasPassword = pwStart !== -1;
  if (badLength) {
    req.problem = 'bad-password-length';
  } else if (hasPassword) {
    const plain = passwordCipher(packet.subarray(pwStart, pwStart + pwLen), secret, authenticator, true);
    let n = plain.length;
    while (n > 0 && plain[n - 1] === 0) n--;
    req.password = plain.subarray(0, n);
  }
  if (req.problem === undefined) {
    if (hasPassword && req.hasChapPassword) req.problem = 'password-and-chap';
    else if (!hasPassword && !req.hasChapPassword && !req.state && !req.hasEap && !req.hasMsChap) req.problem = 'no-credentials';
    else if (!nasId) req.problem = 'no-nas-id';
    else if (!req.userName) req.problem = 'no-user-name';
  }
  return req;
}
