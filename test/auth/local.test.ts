/** Local users' passwords: argon2id off the event loop, same work for unknown users. */
import t from 'tap';
import { LocalPrimary } from '../../src/auth/local.js';
import { createArgon2Hasher } from '../../src/auth/passwords.js';
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
  t.same(await local.verify('alice', 'right'), { ok: true, user: 'alice', groups: ['vpn'] });
  t.same(await local.verify('alice', 'wrong'), { ok: false, reason: 'wrong-password' });
  t.same(await local.verify('alice', ''), { ok: false, reason: 'wrong-password' }, 'an empty password never matches');
  t.same(await local.verify('nobody', 'right'), { ok: false, reason: 'unknown-user' });
  t.same(await local.verify('nopass', ''), { ok: false, reason: 'wrong-password' }, 'a user without a password cannot log in with one');
  t.same(await local.verify('off', 'right'), { ok: false, reason: 'disabled-user' });
  t.same(await local.verify('off', 'wrong'), { ok: false, reason: 'wrong-password' }, 'a wrong password says nothing about the account');
  // lookup (an app password stands in for the password, not for the account): exists and enabled.
  t.same(await local.lookup('alice'), { ok: true, user: 'alice', groups: ['vpn'] });
  t.same(await local.lookup('nobody'), { ok: false, reason: 'unknown-user' });
  t.same(await local.lookup('off'), { ok: false, reason: 'disabled-user' });
  await local.close();
});

t.test('hashing: at most `threads` at once, the rest queue; a malformed hash is a mismatch', async (t) => {
  const hasher = await createArgon2Hasher(1);
  const h = await hasher.hash('pw');
  t.match(h, /^\$argon2id\$/);
  const results = await Promise.all([hasher.verify(h, 'pw'), hasher.verify(h, 'no'), hasher.verify(h, 'pw'), hasher.verifyDummy('pw')]);
  t.same(results, [true, false, true, false]);
  t.equal(await hasher.verify('not-a-hash', 'pw'), false);
  const defaults = await createArgon2Hasher();
  t.equal(await defaults.verify(h, 'pw'), true, 'one thread per core by default');
  await t.rejects(hasher.hash(123 as never), 'a thread that dies fails its job');
  t.equal(await hasher.verify(h, 'pw'), true, 'and the next job gets a new thread');
  await hasher.close();
  await t.rejects(hasher.verify(h, 'pw'), /stopped/);
  await defaults.close();
});

t.test('hashing threads run at low priority; close refuses queued work', async (t) => {
  const hasher = await createArgon2Hasher(2);
  const h = await hasher.hash('pw');
  await Promise.all([hasher.verify(h, 'pw'), hasher.verify(h, 'pw')]);
  const nice = threadsOf().map((th) => th.nice);
  t.ok(nice.filter((n) => n === 19).length >= 2, 'two threads at nice 19');
  t.ok(nice.includes(0), 'the event loop keeps its priority');
  const queued = Promise.allSettled([hasher.verify(h, 'a'), hasher.verify(h, 'b'), hasher.verify(h, 'c')]);
  await hasher.close();
  const settled = await queued;
  t.same(settled.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'work under way or queued at close is refused');
});
