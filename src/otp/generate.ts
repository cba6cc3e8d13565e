/**
 * Code generation (RFC 4226 §5.3, RFC 6238 §4.2) through otplib 13 with its Node crypto plugin.
 * The verify path uses direct.ts instead (see the figures there); the tests hold both to the RFC
 * vectors and to oathtool.
 */
import { generateSync } from 'otplib';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import type { OtpAlgorithm, OtpDigits } from '../tokens/record.js';

const crypto = new NodeCryptoPlugin();
const HASH = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/**
 * The HOTP value for `counter`, `digits` long with leading zeros kept. Counters are 8-byte
 * unsigned (RFC 4226 §5.1) up to 2^53−1, so RFC 6238's t = 2×10^10 works.
 * Throws (otplib) on a counter outside 0 … 2^53−1 and on a secret under 16 or over 64 bytes.
 */
export function hotpCode(secret: Buffer, counter: number, digits: OtpDigits, algorithm: OtpAlgorithm): string {
  return generateSync({ strategy: 'hotp', secret, counter, digits, algorithm: HASH[algorithm], crypto });
}
