/**
 * Base32 per RFC 4648 §6 (alphabet A–Z, 2–7). Decoding tolerates case, spaces and "=" padding,
 * and refuses anything else: 0, 1, 8, 9 are not in the alphabet, and a length whose last group
 * cannot come from whole bytes (len mod 8 in {1, 3, 6}) is not Base32.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

export type Base32Result = { ok: true; bytes: Buffer } | { ok: false; reason: string };

export function base32Decode(input: string): Base32Result {
  const text = input.replace(/[\s]/g, '').toUpperCase().replace(/=+$/, '');
  if (text.length === 0) return { ok: false, reason: 'is empty' };
  if ([1, 3, 6].includes(text.length % 8)) return { ok: false, reason: `has a length (${text.length}) that is not whole bytes` };
  const out = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (VALUES[c] as number) : -1;
    if (v < 0) return { ok: false, reason: `has a character outside A-Z and 2-7 at position ${i + 1}` };
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return { ok: true, bytes: out };
}

/** Unpadded Base32, as otpauth:// URIs use it. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}
