/**
 * The decision pipeline: primary credential → second factor → Decision (SPEC "RADIUS behaviour").
 *
 * The three ways in: password followed by the code in one User-Password; the password alone,
 * answered by an Access-Challenge whose State comes back with the code; or (primary = "none")
 * the code alone. App passwords are accepted alone. Every refusal carries its reason for the
 * audit log; the reply never says which part was wrong.
 */
import type { AuthMode } from '../audit/event.js';
import type { AppPasswordStore, ChallengeStore, TokenStore, TokenWithSecret, UserStore } from '../store/types.js';
import { matchAppPassword } from './app-passwords.js';
import { reject, type AuthRequest, type Decision } from './decision.js';
import type { PrimaryAuthenticator, PrimaryResult } from './primary.js';
import { checkCode, inactiveReason, isActive, type OtpPolicy } from './second-factor.js';

export interface PipelinePolicy {
  usersWithoutToken: 'reject' | 'password-only';
  challengeTimeout: number;
  challengeMessage: string;
  otp: OtpPolicy;
}

export interface PipelineDeps {
  users: UserStore;
  tokens: TokenStore;
  challenges: ChallengeStore;
  appPasswords: AppPasswordStore;
  primaries: { local: PrimaryAuthenticator; ldap?: PrimaryAuthenticator };
  policy: PipelinePolicy;
  /** Unix time in seconds. */
  now: () => number;
  random: (bytes: number) => Buffer;
}

export const PAP_REQUIRED = 'PAP (User-Password) is required';

export class Pipeline {
  /** The policy of the next decisions ([auth] and [otp] reloaded on SIGHUP). */
  setPolicy(policy: PipelinePolicy): void {
    this.deps.policy = policy;
  }

  constructor(private readonly deps: PipelineDeps) {
    deps.tokens.groupCommits();
  }

  /**
   * A decision is returned only once every store write made so far — its own, and any it read —
   * is committed (RFC 6238 §5.2: an accepted code is never accepted again, even after kill -9),
   * and an Accept once it is on disk (whenSettled).
   * A failed commit throws: the caller rejects.
   */
  decide(req: AuthRequest): Promise<Decision> {
    let decided: Decision | Promise<Decision>;
    try {
      decided = this.decideNow(req);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    // Not an async function: most answers are decided synchronously, and each async frame and
    // await allocated on every request (scavenges are a part of the latency tail).
    return decided instanceof Promise ? decided.then((d) => this.whenSettled(d)) : this.whenSettled(decided);
  }

  /**
   * An Accept waits until what it wrote is on disk (store.synchronous = "full": an OS crash
   * cannot undo the record of its code). Other answers wait only for the commit: a failure
   * count's sync would make a wrong code's Reject slower than an unknown user's (O10). For the
   * same reason a Reject that wrote nothing writes as a wrong code's does (evenOutReject).
   */
  private whenSettled(decision: Decision): Promise<Decision> {
    const tokens = this.deps.tokens;
    if (decision.result === 'reject') tokens.evenOutReject();
    return (decision.result === 'accept' ? tokens.durable() : tokens.settled()).then(() => decision);
  }

  /** `respelled`: decided again under the primary's spelling of the name (see withPrimary). */
  private decideNow(req: AuthRequest, respelled = false): Decision | Promise<Decision> {
    const user = req.userName;
    if (req.method !== 'pap') return reject(user, 'unknown', 'unsupported-method', '', PAP_REQUIRED);
    if (user === '' || req.password === undefined) return reject(user, 'unknown', 'bad-request');
    const now = Math.floor(this.deps.now());
    const password = req.password.toString('utf8');
    if (req.state !== undefined) {
      if (this.deps.users.isDisabled(user)) return reject(user, 'unknown', 'disabled-user');
      return this.answerChallenge(req.state, user, req.client, password, now);
    }
    if (req.primary === 'none') return this.codeOnly(user, password, now);
    const primary = req.primary === 'ldap' ? this.deps.primaries.ldap : this.deps.primaries.local;
    /* c8 ignore next -- server/ refuses to start with primary = "ldap" and no [ldap] urls */
    if (primary === undefined) return reject(user, 'unknown', 'directory-unavailable');
    if (this.deps.users.isDisabled(user)) return this.disabled(user, req.client, password, primary);
    return this.withPrimary({ ...req, primary: req.primary }, primary, password, now, respelled);
  }

  /** primary = "none": the code alone; the user's flag comes with the tokens (one read). */
  private codeOnly(user: string, code: string, now: number): Decision {
    const owned = this.deps.tokens.forEnabledUser(user);
    if (owned === null) return reject(user, 'unknown', 'disabled-user');
    // No token and no local user: a name this server knows nothing of (not "no-token").
    if (owned.length === 0 && this.deps.users.get(user) === undefined) return reject(user, 'otp', 'unknown-user');
    return this.checkOwned(user, owned, code, now, 'otp', () => this.deps.users.groups(user));
  }

  /** The second step: the State of an earlier Access-Challenge and the code (RFC 2865 §4.4). */
  private answerChallenge(state: Buffer, user: string, client: string, code: string, now: number): Decision {
    // Another user's State, or one sent to another NAS, is not spent by this request.
    const taken = this.deps.challenges.take(state, user, client, now);
    if (taken === undefined) return reject(user, 'challenge', 'unknown-state');
    if (taken.expired) return reject(user, 'challenge', 'expired-state');
    const groups = taken.challenge.groups;
    return this.checkOwned(user, this.deps.tokens.forUser(user), code, now, 'challenge', () => groups);
  }

  /** `groups` is asked only for an Access-Accept (a query saved on every other answer). */
  private checkOwned(user: string, owned: readonly TokenWithSecret[], code: string, now: number, mode: AuthMode, groups: () => readonly string[]): Decision {
    const r = checkCode(this.deps.tokens, owned, code, now, this.deps.policy.otp);
    return r.ok ? { result: 'accept', mode, user, tokenSerial: r.serial, groups: groups() } : reject(user, mode, r.reason, r.serial);
  }

  private async withPrimary(req: AuthRequest & { primary: 'local' | 'ldap' }, primary: PrimaryAuthenticator, password: string, now: number, respelled: boolean): Promise<Decision> {
    const user = req.userName;

    const appPasswordId = matchAppPassword(this.deps.appPasswords.hashes(user), req.password as Buffer);
    if (appPasswordId !== null) {
      // It stands in for the password, not for the account: a user the primary no longer knows
      // (removed from the directory) or has disabled is refused, and the directory's groups apply.
      const who = await primary.lookup(user);
      if (!who.ok) return reject(user, 'app-password', who.reason);
      this.deps.appPasswords.touch(appPasswordId, now);
      return { result: 'accept', mode: 'app-password', user, tokenSerial: '', groups: this.groupsOf(who) };
    }
    // The directory matched another spelling of the name ("ALICE", "alice ", a mail address):
    // tokens, app passwords and the disabled flag are kept under its own, so the decision is made
    // again under that (else a typed "ALICE" has no token, and password-only lets it in).
    const again = (r: PrimaryResult & { ok: true }): Promise<Decision> | Decision =>
      respelled ? reject(user, 'password+otp', 'unknown-user') : this.decideNow({ ...req, userName: r.user }, true);

    const owned = this.deps.tokens.forUser(user);
    const active = owned.filter((o) => isActive(o.token, now));
    // Password followed by a code: try each code length the user's tokens have. A user without
    // tokens (or unknown) is tried as if with a 6-digit token, so the work done does not say
    // whether the user exists (RELIABILITY O10).
    const lengths = active.length > 0 ? [...new Set(active.map((o) => o.token.digits))] : [6];
    let rightPasswordNoToken = false;
    for (const digits of lengths) {
      const split = splitCode(password, digits);
      if (split === null) continue;
      const r = await primary.verify(user, split.password, req.client);
      if (!r.ok && (r.reason === 'directory-unavailable' || r.reason === 'disabled-user')) return reject(user, 'password+otp', r.reason);
      if (!r.ok) continue;
      if (r.user !== user) return again(r);
      if (active.length === 0) {
        rightPasswordNoToken = true;
        continue;
      }
      // Read again after the await: the failures of requests decided meanwhile count, or a burst
      // of guesses would each see the count from before it (RFC 4226 §7.3, RELIABILITY O6).
      const code = checkCode(this.deps.tokens, this.deps.tokens.forUser(user), split.code, now, this.deps.policy.otp);
      // A wrong password is checked twice (split before a code, then whole), and so are an
      // unknown user's and a user's without a token; a right password with a wrong code once.
      // The Reject of a wrong code waits for the work of a second check (primary.spend), so that
      // it does not say the password was right (RELIABILITY O10). Its failure is counted at once
      // (RFC 4226 §7.3: a burst of guesses sees each other's failures).
      if (code.ok) return { result: 'accept', mode: 'password+otp', user: r.user, tokenSerial: code.serial, groups: this.groupsOf(r) };
      const answerAfter = primary.spend(user, password, req.client);
      // Handled here too: if the commit fails (settled() rejects) no one waits for it, and a
      // rejection with no listener would end the process.
      answerAfter.catch(() => undefined);
      return { result: 'reject', mode: 'password+otp', user, tokenSerial: code.serial, reason: code.reason, answerAfter };
    }

    const r = await primary.verify(user, password, req.client);
    // The password before a code was right, but there is no active token to check the code with.
    if (!r.ok && rightPasswordNoToken) return reject(user, 'password+otp', inactiveReason(owned));
    if (!r.ok) return reject(user, 'password+otp', r.reason);
    if (r.user !== user) return again(r);
    if (active.length > 0) return this.challenge(r.user, req.client, this.groupsOf(r), now, active);
    if (this.deps.policy.usersWithoutToken === 'password-only') {
      return { result: 'accept', mode: 'password', user: r.user, tokenSerial: '', groups: this.groupsOf(r) };
    }
    return reject(user, 'password', inactiveReason(owned));
  }

  /**
   * A disabled user's Reject, after the checks an unknown user's password gets in withPrimary (a
   * 6-digit split, then the whole), spent with the client's primary and their results ignored:
   * the Reject takes about as long as a wrong password's, so its timing does not say that the
   * account exists (RELIABILITY O10).
   */
  private async disabled(user: string, client: string, password: string, primary: PrimaryAuthenticator): Promise<Decision> {
    const split = splitCode(password, 6);
    if (split !== null) await primary.spend(user, split.password, client);
    await primary.spend(user, password, client);
    return reject(user, 'unknown', 'disabled-user');
  }

  /** RFC 2865 §4.4: Access-Challenge with a random State, answerable once within the timeout. */
  private challenge(user: string, client: string, groups: readonly string[], now: number, active: readonly TokenWithSecret[]): Decision {
    const state = this.deps.random(16);
    const { challengeTimeout, challengeMessage } = this.deps.policy;
    this.deps.challenges.create(state, { user, client, groups, createdAt: now, expiresAt: now + challengeTimeout });
    const tokenSerial = active.length === 1 ? (active[0] as TokenWithSecret).token.serial : '';
    return { result: 'challenge', mode: 'challenge', user, tokenSerial, state, replyMessage: challengeMessage };
  }

  /** Directory groups plus local groups of the same name's local user. */
  private groupsOf(r: PrimaryResult & { ok: true }): readonly string[] {
    const local = this.deps.users.groups(r.user);
    return local.length === 0 ? r.groups : [...new Set([...r.groups, ...local])];
  }
}

/** "secret123456" → password "secret", code "123456", when it ends in `digits` digits. */
export function splitCode(password: string, digits: number): { password: string; code: string } | null {
  if (password.length <= digits) return null;
  const code = password.slice(-digits);
  return /^[0-9]+$/.test(code) ? { password: password.slice(0, -digits), code } : null;
}
