/**
 * The primary credential stage: local users (argon2id) or a directory (LDAP bind).
 * A wrong password is an outcome, not an exception.
 */
export type PrimaryFailure = 'wrong-password' | 'unknown-user' | 'disabled-user' | 'directory-unavailable';

export type PrimaryResult =
  | { ok: true; /** unique user id for the audit log */ user: string; /** group names or DNs */ groups: readonly string[] }
  | { ok: false; reason: PrimaryFailure };

export interface PrimaryAuthenticator {
  verify(user: string, password: string): Promise<PrimaryResult>;
  close(): Promise<void>;
}
