/**
 * The primary credential stage: local users (argon2id) or a directory (LDAP bind).
 * A wrong password is an outcome, not an exception.
 */
export type PrimaryFailure = 'wrong-password' | 'unknown-user' | 'disabled-user' | 'directory-unavailable';

export type PrimaryResult =
  | { ok: true; /** unique user id for the audit log */ user: string; /** group names or DNs */ groups: readonly string[] }
  | { ok: false; reason: PrimaryFailure };

export interface PrimaryAuthenticator {
  /**
   * `client`: the NAS the request came from (local passwords are hashed in its own queue,
   * passwords.ts). Rejects with HashQueueTimeout when the check waited too long to start.
   */
  verify(user: string, password: string, client: string): Promise<PrimaryResult>;
  /**
   * The user as the primary knows them, without a password: for an app password, which stands in
   * for the password but not for the account (a user removed from the directory is refused).
   */
  lookup(user: string): Promise<PrimaryResult>;
  /**
   * About the work of a verify that fails, its result ignored, without counting against anyone
   * (RELIABILITY O10: a right password with a wrong code is answered as late as a wrong one).
   * Rejects only with HashQueueTimeout, as a verify would (the request then goes unanswered, as
   * a wrong password's does); any other failure ends it.
   */
  spend(user: string, password: string, client: string): Promise<void>;
  close(): Promise<void>;
}
