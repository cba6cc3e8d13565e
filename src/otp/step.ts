/**
 * RFC 6238 §4.2: T = floor((now − T0) / X). Its own module so the verify path (verify.ts) does
 * not load otplib, which only code generation (generate.ts: enroll, resync tests) needs.
 */
export function totpStep(nowSeconds: number, period: number, t0: number): number {
  return Math.floor((nowSeconds - t0) / period);
}
