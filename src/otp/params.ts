import type { TokenRecord } from '../tokens/record.js';

/**
 * What the OTP maths needs to know about a token (RFC 4226 §5, RFC 6238 §4): period and T0
 * (RFC 6238 §4.1), the next HOTP counter (RFC 4226 §7.2) and the clock drift in steps
 * (RFC 6238 §6), as TokenRecord documents them.
 */
export type OtpParams = Pick<TokenRecord, 'type' | 'algorithm' | 'digits' | 'period' | 't0' | 'counter' | 'drift'>;
