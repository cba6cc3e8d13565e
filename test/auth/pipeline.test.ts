/**
 * The decision pipeline with a real store and a fake primary: the three ways in, lockout,
 * replay, drift, token states, app passwords, users without tokens (RELIABILITY §3).
 */
import t from 'tap';
import { hotpCode as ourHotp } from '../../src/otp/generate.js';
import { Pipeline, splitCode, type PipelinePolicy } from '../../src/auth/pipeline.js';
import type { PrimaryAuthenticator, PrimaryResult } from '../../src/auth/primary.js';
import { HashQueueTimeout, type AuthRequest, type Decision } from '../../src/auth/decision.js';
import { hashAppPassword } from '../../src/auth/app-passwords.js';
import { tempStore, totpRecord } from '../helpers/store.js';

const KEY = Buffer.from('12345678901234567890');
const PERIOD = 30;
const T = 66_666_666; // a step number; now = T * 30 + 5
const code = (step: number, key = KEY, digits: 6 | 8 = 6): string => ourHotp(key, step, digits, 'SHA1');

class FakePrimary implements PrimaryAuthenticator {
  calls: Array<[string, string]> = [];
  /** As a directory: another spelling of a name finds the same entry ("ALICE" → alice). */
  spelling: (user: string) => string = (u) => u;
  /** Answers after this many event-loop turns (argon2 or a directory takes time). */
  turns = 0;
  constructor(
    private readonly passwords: Record<string, string>,
    private readonly override?: PrimaryResult,
  ) {}
  async verify(user: string, password: string): Promise<PrimaryResult> {
    this.calls.push([user, password]);
    for (let i = 0; i < this.turns; i++) await new Promise((r) => setImmediate(r));
    const who = await this.lookup(user);
    if (!who.ok || this.override) return who;
    return this.passwords[who.user] === password ? who : { ok: false, reason: 'wrong-password' };
  }
  /** What spend() was asked: [user, password]. Counted in `calls` too, as the check it stands for. */
  spent: Array<[string, string]> = [];
  async spend(user: string, password: string): Promise<void> {
    this.spent.push([user, password]);
    await this.verify(user, password).catch(() => undefined);
  }
  async lookup(user: string): Promise<PrimaryResult> {
    if (this.override) return this.override;
    const name = this.spelling(user);
    return name in this.passwords ? { ok: true, user: name, groups: ['dir-group'] } : { ok: false, reason: 'unknown-user' };
  }
  async close(): Promise<void> {}
}

function setup(opts: { policy?: Partial<PipelinePolicy>; otp?: Partial<PipelinePolicy['otp']>; primary?: FakePrimary; now?: number } = {}) {
  let now = opts.now ?? T * PERIOD + 5;
  const { store } = tempStore({ now: () => now });
  const primary = opts.primary ?? new FakePrimary({ alice: 'pw', bob: 'pw', carol: 'pw1234' });
  let n = 0;
  const pipeline = new Pipeline({
    users: store.users,
    tokens: store.tokens,
    challenges: store.challenges,
    appPasswords: store.appPasswords,
    primaries: { local: primary, ldap: primary },
    policy: {
      usersWithoutToken: 'reject',
      challengeTimeout: 300,
      challengeMessage: 'Code?',
      ...opts.policy,
      otp: { window: 1, hotpLookAhead: 10, maxFailures: 3, unlockAfter: 0, ...opts.otp },
    },
    now: () => now,
    random: (bytes) => Buffer.alloc(bytes, ++n),
  });
  const decide = (user: string, password: string | undefined, extra: Partial<AuthRequest> = {}): Promise<Decision> =>
    pipeline.decide({ userName: user, password: password === undefined ? undefined : Buffer.from(password), state: undefined, method: 'pap', client: 'gw', primary: 'local', ...extra });
  return {
    store,
    primary,
    decide,
    setNow: (s: number) => (now = s),
    now: () => now,
  };
}

t.test('splitCode', async (t) => {
  t.same(splitCode('pw123456', 6), { password: 'pw', code: '123456' });
  t.equal(splitCode('123456', 6), null, 'nothing left for a password');
  t.equal(splitCode('pw12345a', 6), null);
});

t.test('password+code: accept, replay refused, wrong code, wrong password, unknown user', async (t) => {
  const s = setup({ otp: { maxFailures: 10 } });
  s.store.tokens.importMany([totpRecord('A1', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'accept', mode: 'password+otp', tokenSerial: 'A1', groups: ['dir-group'] });
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'reject', reason: 'replayed-code', tokenSerial: 'A1' });
  t.match(await s.decide('alice', `pw${code(T - 1)}`), { result: 'reject', reason: 'replayed-code' }, 'an earlier step after a later one');
  t.match(await s.decide('alice', `pw${code(T + 5)}`), { result: 'reject', reason: 'wrong-code' });
  t.match(await s.decide('alice', `nope${code(T + 1)}`), { result: 'reject', reason: 'wrong-password', mode: 'password+otp' });
  t.match(await s.decide('mallory', `pw${code(T + 1)}`), { result: 'reject', reason: 'unknown-user' });
  s.store.users.addToGroup('alice', 'local-g');
  t.match(await s.decide('alice', `pw${code(T + 1)}`), { result: 'accept', groups: ['dir-group', 'local-g'] }, 'T+1 is inside the window; directory and local groups');
  t.equal(s.store.tokens.get('A1')?.drift, 1, 'drift learned');
});

t.test('window edges (RELIABILITY O3): T-2 rejected, T-1..T+1 accepted', async (t) => {
  for (const [offset, result] of [
    [-2, 'reject'],
    [-1, 'accept'],
    [0, 'accept'],
    [1, 'accept'],
    [2, 'reject'],
  ] as const) {
    const s = setup();
    s.store.tokens.importMany([totpRecord('W', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
    t.equal((await s.decide('alice', `pw${code(T + offset)}`)).result, result, `T${offset >= 0 ? '+' : ''}${offset}`);
  }
});

t.test('the window is centred on the learned drift (RELIABILITY O4)', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('D', { user: 'alice', secret: KEY, drift: 3 })], { replace: false, createUsers: true });
  t.match(await s.decide('alice', `pw${code(T + 4)}`), { result: 'accept' }, 'T+drift+1');
  t.equal(s.store.tokens.get('D')?.drift, 4);
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'reject' }, 'T is outside a window centred on T+4');
});

t.test('password alone → challenge; the State answers once, for the same user, in time', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('C', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  const ch = await s.decide('alice', 'pw');
  t.match(ch, { result: 'challenge', mode: 'challenge', replyMessage: 'Code?', tokenSerial: 'C' });
  const state = (ch as { state: Buffer }).state;
  t.match(await s.decide('bob', code(T), { state }), { result: 'reject', reason: 'unknown-state' }, 'another user cannot answer it');
  const ch2 = (await s.decide('alice', 'pw')) as { state: Buffer };
  t.match(await s.decide('alice', code(T), { state: ch2.state, client: 'other-nas', primary: 'none' }), { result: 'reject', reason: 'unknown-state' }, 'nor another NAS (RFC 2865 §5.24)');
  t.match(await s.decide('alice', code(T), { state: ch2.state }), { result: 'accept', mode: 'challenge', groups: ['dir-group'] });
  t.match(await s.decide('alice', code(T + 1), { state: ch2.state }), { result: 'reject', reason: 'unknown-state' }, 'single use');
  const ch3 = (await s.decide('alice', 'pw')) as { state: Buffer };
  s.setNow(s.now() + 300);
  t.match(await s.decide('alice', code(T + 10), { state: ch3.state }), { result: 'reject', reason: 'expired-state' });
  const ch4 = (await s.decide('alice', 'pw')) as { state: Buffer };
  t.match(await s.decide('alice', '000000', { state: ch4.state }), { result: 'reject', reason: 'wrong-code', mode: 'challenge' });
});

t.test('code alone for primary = "none"', async (t) => {
  const s = setup();
  s.store.users.add('alice', null);
  s.store.users.addToGroup('alice', 'local-g');
  s.store.tokens.importMany([totpRecord('N', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  t.match(await s.decide('alice', code(T), { primary: 'none' }), { result: 'accept', mode: 'otp', groups: ['local-g'] });
  t.match(await s.decide('alice', code(T), { primary: 'none' }), { result: 'reject', reason: 'replayed-code', mode: 'otp' });
  t.match(await s.decide('nobody', code(T), { primary: 'none' }), { result: 'reject', reason: 'unknown-user', mode: 'otp' }, 'no token, no user');
  s.store.users.add('bob', null);
  t.match(await s.decide('bob', code(T), { primary: 'none' }), { result: 'reject', reason: 'no-token' }, 'a user without a token');
  t.equal(s.primary.calls.length, 0, 'no password check at all');
});

t.test('a Reject that wrote nothing writes all the same; a wrong code’s failure count is its write (RELIABILITY O10)', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('N', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  const rejectWrites = (): number => s.store.db.prepare('SELECT count FROM reject_writes').pluck().get() as number;
  t.match(await s.decide('nobody', code(T), { primary: 'none' }), { result: 'reject', reason: 'unknown-user' });
  t.equal(rejectWrites(), 1, 'an unknown user: committed before the answer');
  t.match(await s.decide('alice', '000000', { primary: 'none' }), { result: 'reject', reason: 'wrong-code' });
  t.equal(rejectWrites(), 1, 'a wrong code: none more');
  t.equal(s.store.tokens.get('N')?.failures, 1);
  t.match(await s.decide('alice', code(T), { primary: 'none' }), { result: 'accept' });
  t.equal(rejectWrites(), 1, 'an Accept: none');
});

t.test('lockout (RELIABILITY O6): at max_failures even a right code fails; unlock; success resets', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('L', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  t.match(await s.decide('alice', 'pw000000'), { reason: 'wrong-code' });
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'accept' }, 'success resets the count');
  t.equal(s.store.tokens.get('L')?.failures, 0);
  for (let i = 0; i < 3; i++) t.match(await s.decide('alice', 'pw000000'), { reason: 'wrong-code' });
  t.ok(s.store.tokens.get('L')?.lockedAt !== null, 'locked at the third failure');
  t.match(await s.decide('alice', `pw${code(T + 1)}`), { result: 'reject', reason: 'locked', tokenSerial: 'L' });
  t.match(await s.decide('alice', 'pw000000'), { result: 'reject', reason: 'locked' });
  s.store.tokens.unlock('L');
  t.match(await s.decide('alice', `pw${code(T + 1)}`), { result: 'accept' });
});

t.test('otp.unlock_after lifts a lock by itself', async (t) => {
  const s = setup({ otp: { unlockAfter: 600 } });
  s.store.tokens.importMany([totpRecord('U', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  for (let i = 0; i < 3; i++) await s.decide('alice', 'pw000000');
  t.match(await s.decide('alice', `pw${code(T)}`), { reason: 'locked' });
  s.setNow(s.now() + 600);
  const step = Math.floor(s.now() / PERIOD);
  t.match(await s.decide('alice', `pw${code(step)}`), { result: 'accept' });
});

t.test('token states: disabled, not yet valid, expired; users_without_token', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('X', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  s.store.tokens.setEnabled('X', false);
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'reject', reason: 'disabled-token', mode: 'password+otp' });
  t.match(await s.decide('alice', 'pw'), { result: 'reject', reason: 'disabled-token', mode: 'password' });
  t.match(await s.decide('alice', code(T), { primary: 'none' }), { result: 'reject', reason: 'disabled-token' });
  const now = s.now();
  s.store.tokens.importMany([totpRecord('Y', { user: 'bob', secret: KEY, validFrom: now + 100 })], { replace: false, createUsers: true });
  t.match(await s.decide('bob', code(T), { primary: 'none' }), { result: 'reject', reason: 'expired-token' }, 'not valid yet');
  s.store.tokens.importMany([totpRecord('Z', { user: 'carol', secret: KEY, validUntil: now })], { replace: false, createUsers: true });
  t.match(await s.decide('carol', code(T), { primary: 'none' }), { result: 'reject', reason: 'expired-token' }, 'expired');
  t.match(await s.decide('bob', 'pw'), { result: 'reject', reason: 'expired-token' }, 'password alone: no active token');
  const open = setup({ policy: { usersWithoutToken: 'password-only' } });
  t.match(await open.decide('alice', 'pw'), { result: 'accept', mode: 'password', groups: ['dir-group'] });
  t.match(await open.decide('carol', 'pw1234'), { result: 'accept', mode: 'password' }, 'a password ending in digits, no token');
  t.match(await open.decide('alice', 'nope'), { result: 'reject', reason: 'wrong-password' });
  const closed = setup();
  t.match(await closed.decide('alice', 'pw'), { result: 'reject', reason: 'no-token' });
});

t.test('unknown users cost the same primary checks as known ones (RELIABILITY O10)', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  await s.decide('alice', 'wrong123456');
  const known = s.primary.calls.length;
  s.primary.calls.length = 0;
  await s.decide('mallory', 'wrong123456');
  t.equal(s.primary.calls.length, known, `${known} checks either way`);
  s.primary.calls.length = 0;
  s.store.users.setEnabled('alice', false);
  t.match(await s.decide('alice', 'wrong123456'), { result: 'reject', reason: 'disabled-user' });
  t.equal(s.primary.calls.length, known, 'a disabled user too: the Reject takes as long');
  s.store.users.setEnabled('alice', true);
  s.primary.calls.length = 0;
  t.match(await s.decide('alice', 'pw000000'), { result: 'reject', reason: 'wrong-code' });
  t.equal(s.primary.calls.length, known, 'a right password with a wrong code too: it does not say the password was right');
  t.same(s.primary.calls.at(-1), ['alice', 'pw000000'], 'the second check is of the whole User-Password');
  s.primary.calls.length = 0;
  t.match(await s.decide('bob', 'pw000000'), { result: 'reject', reason: 'no-token' });
  t.equal(s.primary.calls.length, known, 'a right password and no token');
});

t.test('the wrong code’s second check is the request’s primary’s spend(), and the Reject waits for it (RELIABILITY O10)', async (t) => {
  const directory = new FakePrimary({ alice: 'pw' });
  const local = new FakePrimary({});
  const { store } = tempStore({ now: () => T * PERIOD + 5 });
  store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  const pipeline = new Pipeline({
    users: store.users,
    tokens: store.tokens,
    challenges: store.challenges,
    appPasswords: store.appPasswords,
    primaries: { local, ldap: directory },
    policy: { usersWithoutToken: 'reject', challengeTimeout: 300, challengeMessage: 'Code?', otp: { window: 1, hotpLookAhead: 10, maxFailures: 3, unlockAfter: 0 } },
    now: () => T * PERIOD + 5,
    random: (bytes) => Buffer.alloc(bytes, 1),
  });
  const ask = (password: string) => pipeline.decide({ userName: 'alice', password: Buffer.from(password), state: undefined, method: 'pap', client: 'gw', primary: 'ldap' });
  const d = await ask('pw000000');
  t.match(d, { result: 'reject', reason: 'wrong-code' });
  t.same(directory.spent, [['alice', 'pw000000']], 'the directory spends (ldap.ts: a search, no bind)');
  t.same(local.calls, [], 'nothing local');
  t.equal(store.tokens.get('K')?.failures, 1);
  directory.spent.length = 0;
  t.match(await ask(`pw${code(T)}`), { result: 'accept' }, 'a code that is accepted');
  t.same(directory.spent, [], 'has no second check');
  store.users.setEnabled('alice', false);
  t.match(await ask('pw123456'), { result: 'reject', reason: 'disabled-user' });
  t.same(directory.spent, [['alice', 'pw'], ['alice', 'pw123456']], 'a disabled user: the two checks of a wrong password, spent with the directory');
  t.same(local.calls, [], 'never a local hash for a directory client');
  directory.spend = () => Promise.reject(new HashQueueTimeout());
  await t.rejects(ask('pw123456'), { code: 'hash-queue-timeout' }, 'a check that waited too long: unanswered, as an unknown user’s');
});

t.test('a failed commit with a second check that then times out: no rejection is left without a listener', async (t) => {
  const primary = new FakePrimary({ alice: 'pw' });
  const s = setup({ primary });
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  primary.spend = async () => {
    await new Promise((r) => setImmediate(r));
    throw new HashQueueTimeout();
  };
  s.store.tokens.settled = () => Promise.reject(new Error('disk full'));
  const unhandled: unknown[] = [];
  const listen = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', listen);
  t.teardown(() => void process.off('unhandledRejection', listen));
  await t.rejects(s.decide('alice', 'pw000000'), /disk full/, 'the decision fails (the handler answers internal-error)');
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.same(unhandled, [], 'the second check’s timeout has a listener (else Node ends the server)');
});

t.test('a wrong code is counted at once; its answer waits for the second check (RELIABILITY O6, O10)', async (t) => {
  const primary = new FakePrimary({ alice: 'pw' });
  const s = setup({ primary });
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  let release = (): void => {};
  const held = new Promise<void>((r) => (release = r));
  const verify = primary.verify.bind(primary);
  primary.verify = async (user, password) => {
    if (password === 'pw000000') await held; // the whole User-Password: the second check
    return verify(user, password);
  };
  const d = await s.decide('alice', 'pw000000');
  t.match(d, { result: 'reject', reason: 'wrong-code' }, 'decided before the second check ends');
  t.equal(s.store.tokens.get('K')?.failures, 1, 'and its failure counted');
  let answered = false;
  void (d as { answerAfter: Promise<void> }).answerAfter.then(() => (answered = true));
  await new Promise((r) => setImmediate(r));
  t.equal(answered, false, 'the answer waits');
  release();
  await new Promise((r) => setImmediate(r));
  t.equal(answered, true, 'until the second check ends');
  t.match(await s.decide('alice', 'nope'), { result: 'reject', reason: 'wrong-password', answerAfter: undefined }, 'a wrong password has no wait of its own');
});

t.test('a code that will not be accepted gets the second check: replayed, locked, an earlier step (RELIABILITY O10)', async (t) => {
  const s = setup({ otp: { maxFailures: 2 } });
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY }), totpRecord('H', { user: 'bob', secret: KEY, type: 'hotp', counter: 5 })], { replace: false, createUsers: true });
  const checks = async (user: string, password: string, expected: Partial<Decision>, n: number, what: string): Promise<void> => {
    s.primary.calls.length = 0;
    t.match(await s.decide(user, password), expected, what);
    t.equal(s.primary.calls.length, n, `${what}: ${n} checks`);
  };
  await checks('alice', `pw${code(T)}`, { result: 'accept' }, 1, 'accepted');
  await checks('alice', `pw${code(T)}`, { result: 'reject', reason: 'replayed-code' }, 2, 'replayed');
  await checks('alice', `pw${code(T - 1)}`, { result: 'reject' }, 2, 'a step before the last accepted one');
  await checks('bob', `pw${code(6)}`, { result: 'accept' }, 1, 'HOTP accepted');
  await checks('bob', `pw${code(6)}`, { result: 'reject', reason: 'wrong-code' }, 2, 'HOTP used');
  await checks('bob', 'pw000000', { result: 'reject' }, 2, 'HOTP wrong');
  await checks('bob', `pw${code(8)}`, { result: 'reject', reason: 'locked' }, 2, 'HOTP right but locked');
});

t.test('several tokens: any of them; 8-digit tokens split at 8', async (t) => {
  const s = setup();
  const other = Buffer.from('abcdefghijabcdefghij');
  s.store.tokens.importMany(
    [totpRecord('S6', { user: 'alice', secret: KEY }), totpRecord('S8', { user: 'alice', secret: other, digits: 8 })],
    { replace: false, createUsers: true },
  );
  t.match(await s.decide('alice', `pw${code(T, other, 8)}`), { result: 'accept', tokenSerial: 'S8' });
  t.match(await s.decide('alice', `pw${code(T, KEY)}`), { result: 'accept', tokenSerial: 'S6' });
  t.match(await s.decide('alice', 'pw000000'), { result: 'reject', reason: 'wrong-code', tokenSerial: 'S6' }, 'only the 6-digit token is tried');
  t.match(await s.decide('alice', 'pw00000000'), { result: 'reject', reason: 'wrong-code', tokenSerial: 'S8' }, 'split at 8');
  s.store.tokens.importMany([totpRecord('B1', { user: 'bob', secret: KEY }), totpRecord('B2', { user: 'bob', secret: other })], { replace: false, createUsers: true });
  t.match(await s.decide('bob', 'pw000000'), { result: 'reject', reason: 'wrong-code', tokenSerial: '' }, 'two tokens fit: no single one to blame');
  t.match(await s.decide('bob', `pw${code(T, other)}`), { result: 'accept', tokenSerial: 'B2' });
  const ch = await s.decide('alice', 'pw');
  t.match(ch, { result: 'challenge', tokenSerial: '' });
});

t.test('HOTP look-ahead and counter', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('H', { user: 'alice', secret: KEY, type: 'hotp', counter: 5 })], { replace: false, createUsers: true });
  t.match(await s.decide('alice', `pw${code(15)}`), { result: 'accept' }, 'counter+10');
  t.equal(s.store.tokens.get('H')?.counter, 16);
  t.match(await s.decide('alice', `pw${code(27)}`), { result: 'reject', reason: 'wrong-code' }, 'counter+11');
  t.match(await s.decide('alice', `pw${code(15)}`), { result: 'reject' }, 'used');
});

t.test('app passwords are accepted alone', async (t) => {
  const s = setup();
  s.store.users.add('alice', null);
  s.store.users.addToGroup('alice', 'mail');
  s.store.tokens.importMany([totpRecord('A', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  const made = s.store.appPasswords.create('alice', 'imap', hashAppPassword('aaaa-bbbb'));
  t.match(await s.decide('alice', 'aaaa-bbbb'), { result: 'accept', mode: 'app-password', groups: ['dir-group', 'mail'] });
  t.equal(s.store.appPasswords.list('alice')[0]?.lastUsedAt, s.now());
  s.store.appPasswords.revoke('alice', made.id);
  t.match(await s.decide('alice', 'aaaa-bbbb'), { result: 'reject' });
});

t.test('an app password stands in for the password, not the account: a user the primary does not know is refused', async (t) => {
  const s = setup();
  s.store.appPasswords.create('gone', 'vpn', hashAppPassword('cccc-dddd'));
  t.match(await s.decide('gone', 'cccc-dddd'), { result: 'reject', mode: 'app-password', reason: 'unknown-user' }, 'removed from the directory');
  t.equal(s.store.appPasswords.list('gone')[0]?.lastUsedAt, null, 'not marked used');
  const down = setup({ primary: new FakePrimary({}, { ok: false, reason: 'directory-unavailable' }) });
  down.store.appPasswords.create('alice', 'vpn', hashAppPassword('cccc-dddd'));
  t.match(await down.decide('alice', 'cccc-dddd'), { result: 'reject', reason: 'directory-unavailable' }, 'directory down: refused');
});

t.test('another spelling of the name (the directory matched it) is decided as the directory’s name', async (t) => {
  const primary = new FakePrimary({ alice: 'pw', bob: 'pw' });
  primary.spelling = (u) => u.trim().toLowerCase();
  const s = setup({ primary, policy: { usersWithoutToken: 'password-only' } });
  s.store.tokens.importMany([totpRecord('A1', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  t.match(await s.decide('ALICE', 'pw'), { result: 'challenge', user: 'alice' }, 'challenged: alice has a token (it was let in on the password)');
  t.match(await s.decide('alice ', `pw${code(T)}`), { result: 'accept', mode: 'password+otp', user: 'alice', tokenSerial: 'A1' });
  t.match(await s.decide('Alice', `pw${code(T)}`), { result: 'reject', reason: 'replayed-code', user: 'alice' });
  t.match(await s.decide('BOB', 'pw'), { result: 'accept', mode: 'password', user: 'bob' }, 'no token: password-only, as bob');
  s.store.users.setEnabled('alice', false);
  t.match(await s.decide('ALICE', `pw${code(T + 1)}`), { result: 'reject', reason: 'disabled-user' }, 'alice disabled: refused under any spelling');
  primary.spelling = (u) => `${u}x`; // a directory whose answer changes with every spelling asked
  t.match(await s.decide('bob', 'pw'), { result: 'reject', reason: 'unknown-user' }, 'decided again once at most');
});

t.test('a burst of guesses cannot outrun the lockout (RELIABILITY O6, RFC 4226 §7.3)', async (t) => {
  const primary = new FakePrimary({ alice: 'pw' });
  primary.turns = 3; // every request waits for the primary: all 12 are read before any is decided
  const s = setup({ primary, otp: { maxFailures: 3 } });
  s.store.tokens.importMany([totpRecord('A1', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  const wrong = Array.from({ length: 11 }, (_, i) => s.decide('alice', `pw${code(T + 100 + i)}`));
  const right = s.decide('alice', `pw${code(T)}`);
  const reasons = (await Promise.all([...wrong, right])).map((d) => (d.result === 'reject' ? d.reason : d.result));
  t.equal(reasons.filter((r) => r === 'wrong-code').length, 3, 'three guesses checked');
  t.equal(reasons.filter((r) => r === 'locked').length, 9, 'then locked, the right code too');
  t.match(s.store.tokens.get('A1'), { failures: 3 });
  t.not(s.store.tokens.get('A1')?.lockedAt, null);
});

t.test('disabled users, non-PAP methods, missing password, directory down', async (t) => {
  const s = setup();
  s.store.users.add('alice', null);
  s.store.users.setEnabled('alice', false);
  t.match(await s.decide('alice', 'pw'), { result: 'reject', reason: 'disabled-user' });
  t.match(await s.decide('bob', 'pw', { method: 'chap' }), { result: 'reject', reason: 'unsupported-method', replyMessage: /PAP/ });
  t.match(await s.decide('bob', undefined), { result: 'reject', reason: 'bad-request' });
  t.match(await s.decide('', 'pw'), { result: 'reject', reason: 'bad-request' });
  const down = setup({ primary: new FakePrimary({}, { ok: false, reason: 'directory-unavailable' }) });
  t.match(await down.decide('alice', 'pw123456', { primary: 'ldap' }), { result: 'reject', reason: 'directory-unavailable' });
  t.match(await down.decide('alice', 'pw', { primary: 'ldap' }), { result: 'reject', reason: 'directory-unavailable' });
  const disabled = setup({ primary: new FakePrimary({}, { ok: false, reason: 'disabled-user' }) });
  t.match(await disabled.decide('alice', 'pw123456'), { result: 'reject', reason: 'disabled-user' });
});

t.test('a disabled user is refused on every path, with a token or without, before anything is used', async (t) => {
  const s = setup();
  s.store.users.add('alice', null);
  s.store.users.add('dave', null);
  s.store.tokens.importMany([totpRecord('A', { user: 'alice', secret: KEY })], { replace: false, createUsers: false });
  const ch = (await s.decide('alice', 'pw')) as { state: Buffer };
  s.store.users.setEnabled('alice', false);
  s.store.users.setEnabled('dave', false);
  t.match(await s.decide('alice', code(T), { primary: 'none' }), { result: 'reject', reason: 'disabled-user', mode: 'unknown' }, 'code alone, with a token');
  t.match(await s.decide('dave', code(T), { primary: 'none' }), { result: 'reject', reason: 'disabled-user' }, 'code alone, no token');
  t.match(await s.decide('alice', code(T), { state: ch.state }), { result: 'reject', reason: 'disabled-user' }, 'answering a challenge');
  t.match(await s.decide('alice', `pw${code(T)}`), { result: 'reject', reason: 'disabled-user' }, 'password and code');
  s.store.users.setEnabled('alice', true);
  t.match(await s.decide('alice', code(T), { state: ch.state }), { result: 'accept', mode: 'challenge' }, 'the State was not spent, the code not used');
  t.match(await s.decide('alice', code(T + 1), { primary: 'none' }), { result: 'accept', mode: 'otp' });
  t.same(
    s.primary.calls.map(([user]) => user),
    ['alice', 'alice', 'alice'],
    'the first password, then the disabled user’s two checks (for the time they take, results ignored)',
  );
});

t.test('a secret that fails to unseal fails the decision (closed), never "a user without a token"', async (t) => {
  // users_without_token = "password-only": had the token been left out, the password alone would pass.
  const s = setup({ policy: { usersWithoutToken: 'password-only' } });
  s.store.tokens.importMany([totpRecord('F', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  s.store.db.prepare("UPDATE tokens SET secret = x'00' WHERE serial = 'F'").run();
  await t.rejects(s.decide('alice', 'pw'), { code: 'seal-failed' }, 'the password alone');
  await t.rejects(s.decide('alice', `pw${code(T)}`), { code: 'seal-failed' }, 'password and code');
  await t.rejects(s.decide('alice', code(T), { primary: 'none' }), { code: 'seal-failed' }, 'the code alone');
});

t.test('an Accept waits until its write is on disk (durable); a Reject only for the commit (O10)', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  let sync = (): void => {};
  const onDisk = new Promise<void>((r) => (sync = r));
  s.store.tokens.durable = () => onDisk;
  const answered: string[] = [];
  const accept = s.decide('alice', code(T), { primary: 'none' }).then((d) => answered.push(`accept:${d.result}`));
  const reject = s.decide('alice', '000000', { primary: 'none' }).then((d) => answered.push(`wrong code:${d.result}`));
  const unknown = s.decide('nobody', code(T), { primary: 'none' }).then((d) => answered.push(`unknown:${d.result}`));
  await Promise.all([reject, unknown]);
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  t.same(answered, ['wrong code:reject', 'unknown:reject'], 'the Rejects answered, the Accept waits for the sync');
  sync();
  await accept;
  t.same(answered.at(-1), 'accept:accept');
});

t.test('a failed sync fails the Accept (the handler answers internal-error), not the code\'s use', async (t) => {
  const s = setup();
  s.store.tokens.importMany([totpRecord('K', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
  s.store.tokens.durable = () => Promise.reject(new Error('cannot sync radius-otp.db-wal: EIO'));
  await t.rejects(s.decide('alice', code(T), { primary: 'none' }), /EIO/);
  t.equal(s.store.tokens.get('K')?.lastStep, T, 'the code stays used: it is never accepted twice');
});
