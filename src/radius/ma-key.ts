/**
 * The HMAC-MD5 key of a shared secret for Message-Authenticator (RFC 3579 §3.2), built once per
 * secret Buffer and kept while that Buffer lives. Client secrets are long-lived and never
 * written to, so the pads computed from a Buffer stay right for as long as it exists.
 */
import { HmacKey } from '../crypto/hmac-key.js';
import { MAX_PACKET_LENGTH } from './codes.js';

const keys = new WeakMap<Buffer, HmacKey>();

export function messageAuthenticatorKey(secret: Buffer): HmacKey {
  let key = keys.get(secret);
  if (key === undefined) {
    key = new HmacKey('md5', secret, MAX_PACKET_LENGTH);
    keys.set(secret, key);
  }
  return key;
}
