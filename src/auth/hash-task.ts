/** What the event loop asks a hashing thread (hash-worker.ts), and with which argon2id settings. */
import { Algorithm } from '@node-rs/argon2';

/** OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export type HashTask = { op: 'hash'; password: string | Uint8Array } | { op: 'verify'; hash: string; password: string | Uint8Array };
