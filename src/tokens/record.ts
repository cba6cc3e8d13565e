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
