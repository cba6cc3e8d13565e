/**
 * TokenMirror on its own: what goes in comes out field for field, the replay guard's transitions
 * land on the right token, and emptying it overwrites the secrets.
 */
import t from 'tap';
import { TokenMirror } from '../../src/store/sqlite/token-mirror.js';
import type { TokenState, TokenWithSecret } from '../../src/store/types.js';

const state = (id: number, over: Partial<TokenState> = {}): TokenState => ({
  id,
  serial: `S-${id}`,
  type: 'totp',
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
  t0: 0,
  counter: 0,
  lastStep: null,
  drift: 0,
  failures: 0,
  lockedAt: null,
  enabled: true,
  validFrom: null,
  validUntil: null,
  ...over,
});
const owned = (id: number, over: Partial<TokenState> = {}, secret = Buffer.alloc(20, id)): TokenWithSecret => ({ token: state(id, over), secret });

t.test('a user’s tokens come back field for field, as new objects each time', async (t) => {
  const m = new TokenMirror();
  const alice = [
    owned(1),
    owned(2, { type: 'hotp', algorithm: 'SHA512', digits: 8, period: 60, t0: 7, counter: 2 ** 40, lastStep: 5, drift: -3, failures: 4, lockedAt: 1700000000, enabled: false, validFrom: 1, validUntil: 4102444800 }, Buffer.alloc(64, 0xab)),
    owned(3, { algorithm: 'SHA256' }, Buffer.alloc(32, 0xcd)),
  ];
  m.put('alice', alice);
  t.equal(m.get('nobody'), undefined);
  t.ok(m.has('alice'));
  t.notOk(m.has('bob'));
  const got = m.get('alice')!;
  t.same(got.map((o) => o.token), alice.map((o) => o.token));
  t.same(got.map((o) => o.secret), alice.map((o) => o.secret));
  got[0]!.token.failures = 99;
  t.equal(m.get('alice')![0]!.token.failures, 0, 'a caller’s change does not reach the mirror');
  t.same([m.users, m.tokens], [1, 3]);
});

t.test('a user already held, or without tokens, is left as it is', async (t) => {
  const m = new TokenMirror();
  m.put('alice', [owned(1)]);
  m.put('alice', [owned(2)]);
  m.put('bob', []);
  t.same(m.get('alice')!.map((o) => o.token.id), [1]);
  t.notOk(m.has('bob'));
  t.same([m.users, m.tokens], [1, 1]);
});

t.test('a user with a value the columns cannot hold is not held (its requests read the store)', async (t) => {
  const m = new TokenMirror();
  m.put('x'.repeat(256), [owned(1)]);
  m.put('big-id', [owned(1), owned(2 ** 31)]);
  m.put('big-period', [owned(3, { period: 2 ** 31 })]);
  m.put('big-drift', [owned(4, { drift: -(2 ** 31) - 1 })]);
  m.put('long-secret', [owned(5, {}, Buffer.alloc(256))]);
  m.put('long-serial', [owned(6, { serial: 'é'.repeat(128) })]);
  t.same([m.users, m.tokens], [0, 0]);
  m.put('x'.repeat(255), [owned(7, { serial: 'é'.repeat(127), period: 2 ** 31 - 1, drift: -(2 ** 31) }, Buffer.alloc(255, 1))]);
  t.match(m.get('x'.repeat(255)), [{ token: { serial: 'é'.repeat(127), period: 2 ** 31 - 1, drift: -(2 ** 31) }, secret: Buffer.alloc(255, 1) }], 'the largest values that fit');
});

t.test('names and serials beyond ASCII, and names that differ only in one unit', async (t) => {
  const m = new TokenMirror();
  const names = ['jürgen', 'jurgen', 'Jürgen', '李雷', '😀user', 'user😀', 'ab', 'ba'];
  names.forEach((name, i) => m.put(name, [owned(i + 1, { serial: `séri-${name}` })]));
  for (const [i, name] of names.entries()) t.match(m.get(name), [{ token: { id: i + 1, serial: `séri-${name}` } }], name);
  t.equal(m.get('jűrgen'), undefined);
  t.equal(m.get('李'), undefined);
});

t.test('the replay guard’s transitions land on their token only', async (t) => {
  const m = new TokenMirror();
  m.put('alice', [owned(1, { failures: 2 }), owned(2, { type: 'hotp', counter: 5, failures: 3, lockedAt: 100 })]);
  m.put('bob', [owned(3)]);
  m.acceptedStep(1, 1234, -1);
  m.acceptedCounter(2, 9);
  m.failuresSet(3, 10, 200);
  m.acceptedStep(42, 1, 1); // not held: nothing happens
  m.acceptedCounter(42, 1);
  m.failuresSet(42, 1, null);
  const [a1, a2] = m.get('alice')!;
  t.match(a1!.token, { lastStep: 1234, drift: -1, failures: 0, lockedAt: null, counter: 0 });
  t.match(a2!.token, { counter: 9, failures: 0, lockedAt: null, lastStep: null });
  t.match(m.get('bob')![0]!.token, { failures: 10, lockedAt: 200, lastStep: null });
  m.failuresSet(3, 0, null);
  t.match(m.get('bob')![0]!.token, { failures: 0, lockedAt: null });
});

t.test('it grows past its first size with every secret intact, and the old copy is overwritten', async (t) => {
  const m = new TokenMirror();
  m.put('first', [owned(1)]);
  const before = m.get('first')![0]!.secret; // a view of the buffer that is about to be replaced
  const users = 300;
  for (let u = 0; u < users; u++) {
    const ids = [1000 + u * 3, 1001 + u * 3, 1002 + u * 3];
    m.put(`u${u}`, ids.map((id, i) => owned(id, { counter: id }, Buffer.alloc(16 + ((u + i) % 49), id & 0xff))));
  }
  t.same([m.users, m.tokens], [users + 1, users * 3 + 1]);
  for (let u = 0; u < users; u++) {
    const got = m.get(`u${u}`)!;
    t.same(
      got.map((o) => [o.token.id, o.token.counter, o.secret.length, o.secret.every((b) => b === (o.token.id & 0xff))]),
      [0, 1, 2].map((i) => [1000 + u * 3 + i, 1000 + u * 3 + i, 16 + ((u + i) % 49), true]),
    );
  }
  t.same(m.get('first')![0]!.secret, Buffer.alloc(20, 1));
  for (let id = 5000; id < 6000; id++) m.failuresSet(id, 1, 1); // not held: each probe ends at an empty entry
  t.ok([...Array(users).keys()].every((u) => m.get(`u${u}`)!.every((o) => o.token.failures === 0)), 'no held token was touched');
  t.ok(before.every((b) => b === 0), 'the secrets’ old buffer was zeroed when they moved');
});

t.test('clear forgets every user and overwrites the secrets', async (t) => {
  const m = new TokenMirror();
  m.put('alice', [owned(1, {}, Buffer.alloc(20, 0x55))]);
  const view = m.get('alice')![0]!.secret;
  t.equal(m.clears, 0);
  m.clear();
  t.equal(m.clears, 1);
  t.equal(m.get('alice'), undefined);
  t.same([m.users, m.tokens], [0, 0]);
  t.ok(view.every((b) => b === 0), 'no secret is left behind in the buffer');
  m.acceptedStep(1, 5, 0); // the token is gone: nothing happens
  m.put('alice', [owned(7)]);
  t.same(m.get('alice')!.map((o) => o.token.id), [7], 'it fills again');
});
