/**
 * App passwords: random, shown once, stored as SHA-256. They carry 120 bits of entropy, so a
 * fast hash is enough (a slow hash protects guessable human passwords, which these are not).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { base32Encode } from '../tokens/base32.js';

const PREFIX = 'sha256:';

/** 15 random bytes → 24 Base32 characters, grouped by 4 for reading aloud. */
export function newAppPassword(random: (n: number) => Buffer = randomBytes): string {
  return base32Encode(random(15)).toLowerCase().match(/.{4}/g)!.join('-');
}

export function hashAppPassword(password: string | Buffer): string {
  return PREFIX + createHash('sha256').update(password).digest('hex');
}

/** The id of the first matching app password; every candidate is compared, in constant time. */
export function matchAppPassword(candidates: ReadonlyArray<{ id: number; hash: string }>, password: Buffer): number | null {
  const given = Buffer.from(hashAppPassword(password));
  let found: number | null = null;
  for (const c of candidates) {
    const stored = Buffer.from(c.hash);
    if (stored.length === given.length && timingSafeEqual(stored, given) && found === null) found = c.id;
  }
  return found;
}
