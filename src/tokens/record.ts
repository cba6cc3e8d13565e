/**
 * A token as it arrives from an import file or from enrollment, before it is stored.
 * The secret is raw key bytes (RFC 4226 §5.1 K); R6 of RFC 4226 requires at least 16 bytes.
 */
export type TokenType = 'totp' | 'hotp';
export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';
export type OtpDigits = 6 | 7 | 8;

export interface TokenRecord {
  serial: string;
  type: TokenType;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  /** TOTP time step X in seconds (RFC 6238 §4.1); ignored for HOTP. */
  period: number;
  /** TOTP T0 in Unix seconds (RFC 6238 §4.1); 0 unless the file says otherwise. */
  t0: number;
  /** HOTP moving factor (next counter to expect); 0 for TOTP. */
  counter: number;
  /** Known clock drift in time steps (PSKC TimeDrift); 0 when unknown. */
  drift: number;
  secret: Buffer;
  issuer?: string;
  manufacturer?: string;
  model?: string;
  /** Validity period, Unix seconds. A token outside it is refused at authentication. */
  validFrom?: number;
  validUntil?: number;
  /** The user the file assigns the token to (PSKC UserId, CSV upn). */
  user?: string;
}

/** The smallest secret RFC 4226 R6 allows (128 bits). */
export const MIN_SECRET_BYTES = 16;

/** C0, DEL and C1 control characters: what a terminal acts on, and no serial or name may hold. */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** The longest serial stored (PSKC SerialNo has no limit of its own; this is ours). */
export const MAX_SERIAL_LENGTH = 128;

/**
 * Why a serial cannot be stored, as words that follow the serial ("is empty"), or undefined when
 * it can: 1-128 characters, no control characters, no spaces at its ends (a serial is typed, read
 * off a token and printed: each of those would make it one nobody can type or see).
 */
export function serialProblem(serial: string): string | undefined {
  if (serial.trim() === '') return 'is empty';
  if (CONTROL_CHARACTERS.test(serial)) return 'contains control characters';
  if (serial !== serial.trim()) return 'has spaces at its start or end';
  if (serial.length > MAX_SERIAL_LENGTH) return `is longer than ${MAX_SERIAL_LENGTH} characters`;
  return undefined;
}
