/**
 * Enrollment helpers: the otpauth:// Key URI (Google Authenticator "Key Uri Format"), a new
 * random secret, and a terminal QR code.
 *
 * The URI is built here rather than with otplib's generateURI, which leaves out algorithm,
 * digits and period when they are the defaults and splits the label on ":" before encoding it,
 * so an issuer or account holding ":" would be read back wrongly. Here every component is
 * percent-encoded on its own and every parameter is written.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { OtpAlgorithm, OtpDigits } from '../tokens/record.js';
import { base32Encode } from '../tokens/base32.js';

interface QrcodeTerminal {
  generate(input: string, opts: { small: boolean }, cb: (output: string) => void): void;
}

export interface OtpauthUriOptions {
  issuer: string;
  account: string;
  secret: Buffer;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  period: number;
  type: 'totp' | 'hotp';
  /** HOTP: the counter the token starts at (0 when absent). */
  counter?: number;
}

/** `otpauth://TYPE/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=…&digits=…&period=…|counter=…` */
export function otpauthUri(o: OtpauthUriOptions): string {
  const label = `${encodeURIComponent(o.issuer)}:${encodeURIComponent(o.account)}`;
  const params = [
    `secret=${base32Encode(o.secret)}`,
    `issuer=${encodeURIComponent(o.issuer)}`,
    `algorithm=${o.algorithm}`,
    `digits=${o.digits}`,
    o.type === 'totp' ? `period=${o.period}` : `counter=${o.counter ?? 0}`,
  ];
  return `otpauth://${o.type}/${label}?${params.join('&')}`;
}

/** A new random secret; 20 bytes (160 bits) is what RFC 4226 R6 recommends. */
export function newSecret(bytes = 20): Buffer {
  return randomBytes(bytes);
}

/** The QR code for `text` in qrcode-terminal's small (half-block) mode, as a string (loaded here: only `enroll` draws one). */
export function renderQr(text: string): Promise<string> {
  const qrcode = createRequire(import.meta.url)('qrcode-terminal') as QrcodeTerminal;
  return new Promise((resolve) => qrcode.generate(text, { small: true }, resolve));
}
