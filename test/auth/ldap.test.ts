/**
 * LdapAuthenticator against a real OpenLDAP (test/helpers/slapd.ts): credentials, groups,
 * injection, the user id, failover, concurrency, close(), and [ldap] configuration faults.
 */
import t from 'tap';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema.js';
import { LdapAuthenticator, LdapConfigError, POOL_SIZE } from '../../src/auth/ldap.js';
import { startSlapd, freePort, ldapConfig } from '../helpers/slapd.js';

const slapd = await startSlapd();
t.teardown(() => slapd.stop());

const ADMINS = 'cn=VPN-Admins,ou=Groups,dc=example,dc=com';
const USERS = 'cn=VPN-Users,ou=Groups,dc=example,dc=com';

/** The filter names the object class too, as an AD-style filter would. */
const config = (over: Partial<Config['ldap']> = {}): Config['ldap'] =>
  ldapConfig(slapd, { user_filter: '(&(objectClass=inetOrgPerson)(uid={user}))', ...over });

function authenticator(over: Partial<Config['ldap']> = {}): LdapAuthenticator {
  const a = new LdapAuthenticator(config(over));
  t.teardown(() => a.close());
  return a;
}

const ldap = authenticator();

t.test('right password: ok, with the groups from memberOf', async (t) => {
  const r = await ldap.verify('alice', 'alice-pass-1');
  t.equal(r.ok, true);
  if (!r.ok) return;
  t.equal(r.user, 'alice');
  t.same([...r.groups].sort(), [ADMINS, USERS]);
  t.same(await ldap.verify('bob', 'bob-pass-2'), { ok: true, user: 'bob', groups: [USERS] });
  t.same(await ldap.verify('carol', 'carol-pass-3'), { ok: true, user: 'carol', groups: [] });
});

t.test('the user id is the directory spelling of the filter attribute', async (t) => {
  t.same(await ldap.verify('ALICE', 'alice-pass-1'), { ok: true, user: 'alice', groups: [ADMINS, USERS] });
  // Logging in by mail gives the uid, the first attribute matched against {user}.
  const byMail = authenticator({ user_filter: '(|(uid={user})(mail={user}))' });
  t.same(await byMail.verify('alice@example.com', 'alice-pass-1'), { ok: true, user: 'alice', groups: [ADMINS, USERS] });
  // No equality on {user} in the filter: the name as typed.
  const suffix = authenticator({ user_filter: '(mail={user}@example.com)' });
  t.same(await suffix.verify('Alice', 'alice-pass-1'), { ok: true, user: 'Alice', groups: [ADMINS, USERS] });
});

t.test('lookup: the entry without a bind as the user (for app passwords)', async (t) => {
  t.same(await ldap.lookup('ALICE'), { ok: true, user: 'alice', groups: [ADMINS, USERS] });
  t.match(await ldap.lookup('mallory'), { ok: false, reason: 'unknown-user' });
  t.match(await ldap.lookup('*'), { ok: false, reason: 'unknown-user' });
  const nowhere = authenticator({ urls: [`ldap://127.0.0.1:${await freePort()}`] });
  t.match(await nowhere.lookup('alice'), { ok: false, reason: 'directory-unavailable' });
});

t.test('spend: the search a verify starts with, never a bind as the user (RELIABILITY O10)', async (t) => {
  const a = authenticator();
  const searched: string[] = [];
  const spy = a as unknown as { bindUser: (...args: unknown[]) => unknown; find: (user: string) => Promise<unknown> };
  const find = spy.find.bind(a);
  spy.find = (user) => (searched.push(user), find(user));
  spy.bindUser = () => t.fail('a bind as the user');
  await t.resolves(a.spend('alice'));
  await t.resolves(a.spend('mallory'), 'an unknown user: the same search');
  t.same(searched, ['alice', 'mallory']);
  await a.close();
  await t.resolves(a.spend('alice'), 'closed: resolves all the same');
});

t.test('wrong password', async (t) => {
  t.match(await ldap.verify('alice', 'wrong'), { ok: false, reason: 'wrong-password', detail: /InvalidCredentials/ });
  t.match(await ldap.verify('alice', 'bob-pass-2'), { ok: false, reason: 'wrong-password' });
});

t.test('empty password is refused without any bind (an unauthenticated bind would succeed)', async (t) => {
  t.match(await ldap.verify('alice', ''), { ok: false, reason: 'wrong-password', detail: /no bind/ });
  // Nothing listens here: had it tried, the answer would be directory-unavailable.
  const nowhere = authenticator({ urls: [`ldap://127.0.0.1:${await freePort()}`] });
  t.match(await nowhere.verify('alice', ''), { ok: false, reason: 'wrong-password' });
});

t.test('unknown user', async (t) => {
  t.match(await ldap.verify('mallory', 'x'), { ok: false, reason: 'unknown-user', detail: 'no entry matches' });
});

t.test('filter injection in the user name finds nobody', async (t) => {
  for (const name of ['*', 'alice)(uid=*', '*)(uid=*))(|(uid=*', 'al*', 'alice)', '(uid=alice)', 'star\\2auser', '\\', 'star*']) {
    t.match(await ldap.verify(name, 'alice-pass-1'), { ok: false, reason: 'unknown-user' }, name);
  }
  // …while names that really contain the metacharacters work.
  t.same(await ldap.verify('star*user', 'star-pass-4'), {
    ok: true,
    user: 'star*user',
    groups: [USERS],
  });
  t.same(await ldap.verify('paren)user', 'paren-pass-5'), { ok: true, user: 'paren)user', groups: [] });
  t.same(await ldap.verify('jürgen', 'juergen-pass-6'), { ok: true, user: 'jürgen', groups: [USERS] });
});

t.test('absurd names are refused before any search', async (t) => {
  for (const name of ['', 'a'.repeat(300), 'alice\u0000', 'alice\r\n', '\ud800']) {
    t.match(await ldap.verify(name, 'alice-pass-1'), { ok: false, reason: 'unknown-user' }, JSON.stringify(name));
  }
});

t.test('two matching entries: treated as unknown, and the log says why', async (t) => {
  const byMail = authenticator({ user_filter: '(mail={user})' });
  t.match(await byMail.verify('shared@example.com', 'bob-pass-2'), {
    ok: false,
    reason: 'unknown-user',
    detail: /ambiguous/,
  });
  t.same(await byMail.verify('bob@example.com', 'bob-pass-2'), { ok: true, user: 'bob@example.com', groups: [USERS] });
});

t.test('another group attribute', async (t) => {
  const a = authenticator({ group_attribute: 'mail' });
  t.same(await a.verify('bob', 'bob-pass-2'), { ok: true, user: 'bob', groups: ['bob@example.com', 'shared@example.com'] });
});

t.test('no bind_dn: anonymous search (this directory hides memberOf from anonymous)', async (t) => {
  const anon = authenticator({ bind_dn: '', bind_password: '' });
  t.same(await anon.verify('alice', 'alice-pass-1'), { ok: true, user: 'alice', groups: [] });
  t.match(await anon.verify('alice', 'wrong'), { ok: false, reason: 'wrong-password' });
});

t.test('a refused service bind is directory-unavailable', async (t) => {
  const a = authenticator({ bind_password: 'not-the-service-password' });
  const r = await a.verify('alice', 'alice-pass-1');
  t.match(r, { ok: false, reason: 'directory-unavailable', detail: /InvalidCredentials/ });
  t.notMatch(JSON.stringify(r), /alice-pass-1|not-the-service-password/);
});

t.test('all URLs down: directory-unavailable (fail closed), reported with why', async (t) => {
  const told: string[] = [];
  const a = new LdapAuthenticator(config({ urls: [`ldap://127.0.0.1:${await freePort()}`, `ldap://127.0.0.1:${await freePort()}`], timeout: 0.5 }), { onUnavailable: (d) => told.push(d) });
  t.teardown(() => a.close());
  const r = await a.verify('alice', 'alice-pass-1');
  t.match(r, { ok: false, reason: 'directory-unavailable', detail: /ECONNREFUSED.*; .*ECONNREFUSED/ });
  t.match(await a.lookup('alice'), { ok: false, reason: 'directory-unavailable' });
  t.equal(told.length, 2, 'each unavailable answer is reported');
  t.match(told[0], /ldap:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  t.notMatch(told.join(), /alice-pass-1/);
  t.match(await a.verify('alice', ''), { reason: 'wrong-password' });
  t.equal(told.length, 2, 'other failures are not');
});

t.test('failover: first URL closed, second up', async (t) => {
  const a = authenticator({ urls: [`ldap://127.0.0.1:${await freePort()}`, slapd.url], timeout: 0.5 });
  t.same(await a.verify('bob', 'bob-pass-2'), { ok: true, user: 'bob', groups: [USERS] });
  t.match(await a.verify('bob', 'nope'), { ok: false, reason: 'wrong-password' });
});

t.test('concurrent verifies, more than the pool holds', async (t) => {
  const a = authenticator();
  const cases: [string, string, boolean][] = [];
  for (let i = 0; i < 3 * POOL_SIZE; i++) {
    cases.push(['alice', 'alice-pass-1', true], ['bob', 'wrong', false], ['carol', 'carol-pass-3', true]);
  }
  const results = await Promise.all(cases.map(([u, p]) => a.verify(u, p)));
  t.same(
    results.map((r) => r.ok),
    cases.map((c) => c[2]),
  );
  // and again, now from the pool
  const again = await Promise.all(cases.map(([u, p]) => a.verify(u, p)));
  t.same(
    again.map((r) => r.ok),
    cases.map((c) => c[2]),
  );
});

t.test('close() ends every connection; afterwards verify fails closed', async (t) => {
  const a = new LdapAuthenticator(config());
  t.equal((await a.verify('alice', 'alice-pass-1')).ok, true);
  await a.close();
  t.match(await a.verify('alice', 'alice-pass-1'), { ok: false, reason: 'directory-unavailable', detail: /closed/ });
  await a.close();
});

t.test('close() during a verify: the verify fails closed, nothing is left open', async (t) => {
  const a = new LdapAuthenticator(config({ urls: [slapd.url, slapd.url] }));
  const pending = a.verify('alice', 'alice-pass-1');
  await a.close();
  t.match(await pending, { ok: false, reason: 'directory-unavailable', detail: /closed/ });
});

t.test('bind_password_file: the first line is the password', async (t) => {
  const files: Record<string, string> = { '/etc/radius-otp/ldap.pw': `${slapd.bindPassword}\nanything else\n` };
  const a = new LdapAuthenticator(config({ bind_password: '', bind_password_file: '/etc/radius-otp/ldap.pw' }), {
    readFile: (p) => files[p] as string,
  });
  t.teardown(() => a.close());
  t.equal((await a.verify('alice', 'alice-pass-1')).ok, true);
});

t.test('configuration faults are LdapConfigError naming the key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'radius-otp-ldap-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const notPem = join(dir, 'ca.txt');
  await writeFile(notPem, 'not a certificate');
  const empty = join(dir, 'empty.pw');
  await writeFile(empty, '\nsecond line\n');
  const cases: [Partial<Config['ldap']>, string, RegExp][] = [
    [{ urls: [] }, 'ldap.urls', /at least one/],
    [{ urls: ['ldap://[::1'] }, 'ldap.urls', /not a URL/],
    [{ base_dn: '' }, 'ldap.base_dn', /required/],
    [{ bind_password_file: empty }, 'ldap.bind_password', /not both/],
    [{ bind_password: '', bind_password_file: empty }, 'ldap.bind_password_file', /empty/],
    [{ bind_password: '', bind_password_file: join(dir, 'missing.pw') }, 'ldap.bind_password_file', /cannot read .*ENOENT/],
    [{ bind_password: '' }, 'ldap.bind_password', /empty/],
    [{ bind_dn: '' }, 'ldap.bind_dn', /required/],
    [{ ca_file: notPem }, 'ldap.ca_file', /no PEM/],
    [{ user_filter: '(uid={user}' }, 'ldap.user_filter', /not a valid LDAP filter/],
    [{ group_attribute: 'member of' }, 'ldap.group_attribute', /not an attribute/],
  ];
  for (const [over, key, reason] of cases) {
    t.throws(() => new LdapAuthenticator(config(over)), { name: 'LdapConfigError', code: 'ldap-config', key, message: reason }, key);
  }
  // An error from an injected reader that has no errno code.
  const err = t.throws(
    () =>
      new LdapAuthenticator(config({ ca_file: '/x' }), {
        readFile: () => {
          throw new Error('boom');
        },
      }),
  );
  t.ok(err instanceof LdapConfigError);
  t.equal((err as LdapConfigError).message, 'ldap.ca_file: cannot read /x');
});
