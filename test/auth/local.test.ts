/** Local users' passwords: argon2id off the event loop, same work for unknown users. */
import t from 'tap';
import { LocalPrimary } from '../../src/auth/local.js';
import { HashQueueTimeout } from '../../src/auth/decision.js';
import { createArgon2Hasher, MAX_HASH_WAIT_MS } from '../../src/auth/passwords.js';
import { tempStore } from '../helpers/store.js';
import { threadsOf } from '../../src/sched/idle-policy.js';

t.test('local primary', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  const hasher = await createArgon2Hasher(1);
  store.users.add('alice', await hasher.hash('right'));
  store.users.add('nopass', null);
  store.users.add('off', await hasher.hash('right'));
  store.users.setEnabled('off', false);
  store.users.addToGroup('alice', 'vpn');
  const local = new LocalPrimary(store.users, hasher);
  t.same(await local.verify('alice', 'right', 'nas'), { ok: true, user: 'alice', groups: ['vpn'] });
  t.same(await local.verify('alice', 'wrong', 'nas'), { ok: false, reason: 'wrong-password' });
  t.same(await local.verify('alice', '', 'nas'), { ok: false, reason: 'wrong-password' }, 'an empty password never matches');
  t.same(await local.verify('nobody', 'right', 'nas'), { ok: false, reason: 'unknown-user' });
  t.same(await local.verify('nopass', '', 'nas'), { ok: false, reason: 'wrong-password' }, 'a user without a password cannot log in with one');
  t.same(await local.verify('off', 'right', 'nas'), { ok: false, reason: 'disabled-user' });
  t.same(await local.verify('off', 'wrong', 'nas'), { ok: false, reason: 'wrong-password' }, 'a wrong password says nothing about the account');
  // Without a password (an app password stands in for it): the user must exist and be enabled.
  t.same(await local.lookup('alice'), { ok: true, user: 'alice', groups: ['vpn'] });
  t.same(await local.lookup('nopass'), { ok: true, user: 'nopass', groups: [] });
  t.same(await local.lookup('nobody'), { ok: false, reason: 'unknown-user' });
  t.same(await local.lookup('off'), { ok: false, reason: 'disabled-user' });
  await local.close();
});

t.test('spend: one verification of the user’s hash or the dummy, its result and failure ignored (RELIABILITY O10)', async (t) => {
  const { store } = tempStore();
  t.teardown(() => store.close());
  const real = await createArgon2Hasher(1);
  t.teardown(() => real.close());
  store.users.add('alice', await real.hash('right'));
  const seen: string[] = [];
  let fail = false;
  const hasher = {
    ...real,
    verify: async (hash: string, password: string | Buffer) => {
      seen.push(`verify ${String(password)}`);
      if (fail) throw new HashQueueTimeout();
      return real.verify(hash, password, 'nas');
    },
    verifyDummy: async (password: string | Buffer) => {
      seen.push(`dummy ${String(password)}`);
      return false;
    },
  };
  const local = new LocalPrimary(store.users, hasher);
  await local.spend('alice', 'right123456', 'nas');
  await local.spend('nobody', 'x123456', 'nas');
  t.same(seen, ['verify right123456', 'dummy x123456']);
  fail = true;
  await t.rejects(local.spend('alice', 'right123456', 'nas'), { code: 'hash-queue-timeout' }, 'a check that waited too long: as a verify (the request goes unanswered)');
  hasher.verify = async () => {
    throw new Error('password hashing is stopped');
  };
  await t.resolves(local.spend('alice', 'right123456', 'nas'), 'hashing stopped: the wait is over');
});

/** A clock that stands still: queued work never waits too long (a loaded test machine hashes slowly). */
const still = (): number => 0;

t.test('hashing: at most `threads` at once, the rest queue; a malformed hash is a mismatch', async (t) => {
  const hasher = await createArgon2Hasher(1, still);
  const h = await hasher.hash('pw');
  t.match(h, /^\$argon2id\$/);
  const results = await Promise.all([hasher.verify(h, 'pw', 'nas'), hasher.verify(h, 'no', 'nas'), hasher.verify(h, 'pw', 'nas'), hasher.verifyDummy('pw', 'nas')]);
  t.same(results, [true, false, true, false]);
  t.equal(await hasher.verify('not-a-hash', 'pw', 'nas'), false);
  const defaults = await createArgon2Hasher();
  t.equal(await defaults.verify(h, 'pw', 'nas'), true, 'one thread per core by default');
  await t.rejects(hasher.hash(123 as never), 'a thread that dies fails its job');
  t.equal(await hasher.verify(h, 'pw', 'nas'), true, 'and the next job gets a new thread');
  await hasher.close();
  await t.rejects(hasher.verify(h, 'pw', 'nas'), /stopped/);
  await defaults.close();
});

t.test('hashing threads run at low priority; close refuses queued work', async (t) => {
  const hasher = await createArgon2Hasher(2, still);
  const h = await hasher.hash('pw');
  await Promise.all([hasher.verify(h, 'pw', 'nas'), hasher.verify(h, 'pw', 'nas')]);
  const nice = threadsOf().map((th) => th.nice);
  t.ok(nice.filter((n) => n === 19).length >= 2, 'two threads at nice 19');
  t.ok(nice.includes(0), 'the event loop keeps its priority');
  const queued = Promise.allSettled([hasher.verify(h, 'a', 'nas'), hasher.verify(h, 'b', 'nas'), hasher.verify(h, 'c', 'nas')]);
  await hasher.close();
  const settled = await queued;
  t.same(settled.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'work under way or queued at close is refused');
});

t.test('hashing is shared fairly: a flooding client waits behind its own queue (RELIABILITY R10)', async (t) => {
  const hasher = await createArgon2Hasher(1, still);
  const h = await hasher.hash('pw');
  const done: string[] = [];
  const track = (name: string, p: Promise<unknown>): Promise<unknown> => p.then(() => done.push(name)).catch(() => {});
  const flood = Array.from({ length: 100 }, () => track('flood', hasher.verify(h, 'guess', 'flood')));
  // The next check of the same request (the whole password after the split one) is queued when the first ends.
  const nas = track('nas', hasher.verify(h, 'pw123456', 'nas')).then(() => track('nas again', hasher.verifyDummy('pw', 'nas')));
  const cli = track('cli', hasher.hash('new password')); // user add: no client, a queue of its own
  await Promise.all([nas, cli]);
  t.same(done.slice(0, 3), ['flood', 'nas', 'cli'], 'the other clients are next after the one hash under way');
  t.ok(done.indexOf('nas again') <= 4, `the request's next check waits for at most one of the flood's: ${done.slice(0, 6).join(', ')}`);
  await hasher.close();
  await Promise.all(flood);
  t.ok(done.filter((d) => d === 'flood').length <= 3, 'the rest of the flood was still queued, and is refused at close');
});

t.test('hashing: work that waited MAX_HASH_WAIT_MS for a thread is dropped unstarted', async (t) => {
  let now = 0;
  const hasher = await createArgon2Hasher(1, () => now);
  t.teardown(() => hasher.close());
  const h = await hasher.hash('pw');
  const running = hasher.verify(h, 'pw', 'flood');
  const stale = Promise.allSettled([hasher.verify(h, 'pw', 'flood'), hasher.verifyDummy('pw', 'nas'), hasher.verify(h, 'pw', 'nas')]);
  now = MAX_HASH_WAIT_MS;
  const inTime = hasher.verify(h, 'pw', 'nas');
  now = MAX_HASH_WAIT_MS + 0.5;
  t.equal(await running, true, 'work under way finishes');
  for (const r of await stale) {
    t.ok(r.status === 'rejected' && r.reason instanceof HashQueueTimeout && r.reason.code === 'hash-queue-timeout', 'queued longer than MAX_HASH_WAIT_MS: not started');
  }
  t.equal(await inTime, true, 'the work queued since is done');
});
