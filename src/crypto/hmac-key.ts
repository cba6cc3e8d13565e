/**
 * HMAC (RFC 2104) with the key's pads computed once:
 *   HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)),  K' = K zero-padded to the block size,
 * or H(K) zero-padded when K is longer than a block (RFC 2104 §2).
 *
 * Used for Message-Authenticator (RFC 3579 §3.2), where one client secret keys every packet of
 * that client (radius/ma-key.ts keeps one HmacKey per secret), and for OTP codes, where one
 * token secret keys every code of a window (otp/direct.ts HotpKey). Two one-shot crypto.hash() calls over
 * pads prepared once, with digests as strings, cost less than createHmac, which builds an
 * OpenSSL context and a native-backed object per MAC: checking a request's MA 1.4 µs instead
 * of 2.4, encoding an Access-Accept 2.0 µs instead of 3.3 (best of 15 batches of 100,000).
 * The tests hold this to createHmac and to RFC 2202 vectors.
 *
 * Not safe for concurrent use by design of the scratch buffers: every method is synchronous.
 */
import { hash } from 'node:crypto';

export type HmacAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512';

const BLOCK: Record<HmacAlgorithm, number> = { md5: 64, sha1: 64, sha256: 64, sha512: 128 };
const OUTPUT: Record<HmacAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

export class HmacKey {
  readonly outputLength: number;
  private readonly block: number;
  /** (K' ⊕ ipad) followed by room for the message; grown when a longer message comes. */
  private inner: Buffer;
  /** The whole message room of `inner` (a fixed-length message, e.g. a counter, needs no new view). */
  private room: Buffer;
  /** (K' ⊕ opad) ‖ inner digest. */
  private readonly outer: Buffer;

  constructor(
    private readonly algorithm: HmacAlgorithm,
    key: Buffer,
    /** Message bytes the scratch buffer holds without growing. */
    messageRoom = 64,
  ) {
    this.block = BLOCK[algorithm];
    this.outputLength = OUTPUT[algorithm];
    // Every byte is written by setKey (pads) or before it is read (message, inner digest).
    this.inner = Buffer.allocUnsafe(this.block + messageRoom).fill(0, this.block);
    this.outer = Buffer.allocUnsafe(this.block + this.outputLength);
    this.room = this.inner.subarray(this.block);
    this.setKey(key);
  }

  /** Keys this instance anew (the pads of `key`), keeping its buffers: no allocation. */
  setKey(key: Buffer): void {
    const k = key.length > this.block ? hash(this.algorithm, key, 'buffer') : key;
    for (let i = 0; i < this.block; i++) {
      const b = i < k.length ? (k[i] as number) : 0;
      this.inner[i] = b ^ 0x36;
      this.outer[i] = b ^ 0x5c;
    }
  }

  /**
   * The buffer to write a `length`-byte message into, right after the inner pad; macInto() then
   * MACs it. (Two steps rather than a callback: no closure per MAC on the hot path.)
   */
  messageBuffer(length: number): Buffer {
    if (length === this.room.length) return this.room;
    if (this.inner.length < this.block + length) {
      const grown = Buffer.alloc(this.block + length);
      this.inner.copy(grown, 0, 0, this.block);
      this.inner.fill(0);
      this.inner = grown;
      this.room = grown.subarray(this.block);
    }
    return this.inner.subarray(this.block, this.block + length);
  }

  /**
   * The MAC of the `length` bytes last written into messageBuffer(length), as a 'binary'
   * (latin1) string, a char a byte; the message is wiped. Digests travel as strings: a Buffer
   * result costs an ArrayBuffer each, which made a MAC 2.6× slower.
   */
  macString(length: number): string {
    const end = this.block + length;
    if (this.inner.length < end) throw new RangeError('a MAC of a length without messageBuffer(length)');
    const message = end === this.inner.length ? this.inner : this.inner.subarray(0, end);
    this.outer.write(hash(this.algorithm, message, 'binary'), this.block, 'latin1');
    this.inner.fill(0, this.block, end);
    return hash(this.algorithm, this.outer, 'binary');
  }

  /** macString(length), written into `target` at `offset`. */
  macInto(length: number, target: Buffer, offset: number): void {
    target.write(this.macString(length), offset, 'latin1');
  }

  /** The MAC of one buffer, in a new Buffer. */
  digest(message: Buffer): Buffer {
    message.copy(this.messageBuffer(message.length));
    const out = Buffer.alloc(this.outputLength);
    this.macInto(message.length, out, 0);
    return out;
  }

  /** Overwrites the pads (they are the key, XORed with a constant). */
  destroy(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}
