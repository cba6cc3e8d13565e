import type { OtpAlgorithm, OtpDigits } from '../tokens/record.js';

/** What the OTP maths needs to know about a token (RFC 4226 §5, RFC 6238 §4). */
export interface OtpParams {
  type: 'totp' | 'hotp';
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  /** TOTP time step X in seconds (RFC 6238 §4.1). */
  period: number;
  /** TOTP T0 in Unix seconds (RFC 6238 §4.1). */
  t0: number;
  /** HOTP: the next counter value to expect (RFC 4226 §7.2). */
  counter: number;
  /** TOTP: learned clock drift in steps (RFC 6238 §6). */
  drift: number;
}
