/** Codes from Debian's oathtool: an implementation of RFC 4226/6238 independent of ours. */
import { execFileSync } from 'node:child_process';

export function totpCode(secretHex: string, epochSeconds: number, opts: { digits?: number; algorithm?: 'sha1' | 'sha256' | 'sha512'; period?: number } = {}): string {
  return execFileSync('oathtool', [
    `--totp=${opts.algorithm ?? 'sha1'}`,
    '-d',
    String(opts.digits ?? 6),
    '-s',
    `${opts.period ?? 30}s`,
    '-N',
    `@${epochSeconds}`,
    secretHex,
  ])
    .toString()
    .trim();
}

export function hotpCode(secretHex: string, counter: number, digits = 6): string {
  return execFileSync('oathtool', ['-c', String(counter), '-d', String(digits), secretHex]).toString().trim();
}
