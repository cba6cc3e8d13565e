import t from 'tap';
import { FilterParser } from 'ldapts';
import { escapeFilterValue, userAttributeOf, userFilter, userNameProblem } from '../../src/auth/ldap-filter.js';

t.test('RFC 4515 escaping of the five special characters', async (t) => {
  t.equal(escapeFilterValue('a*b(c)d\\e\u0000f'), 'a\\2ab\\28c\\29d\\5ce\\00f');
  t.equal(escapeFilterValue('plain.user-1@example.com'), 'plain.user-1@example.com');
  // Non-ASCII stays as UTF-8 (RFC 4515 UTFMB); ldapts encodes it as such.
  t.equal(escapeFilterValue('jürgen'), 'jürgen');
});

t.test('escaped values parse back to the literal value as one equality assertion', async (t) => {
  for (const name of ['*', 'alice)(uid=*', '*)(|(uid=*', 'a\\b', 'x\u0000y', '(', ')', 'jürgen', 'a*b*c']) {
    const f = FilterParser.parseString(userFilter('(uid={user})', name)) as unknown as { attribute: string; value: string };
    t.equal(f.constructor.name, 'EqualityFilter', name);
    t.equal(f.value, name, name);
  }
});

t.test('every {user} is replaced', async (t) => {
  t.equal(userFilter('(|(uid={user})(mail={user}))', 'a*'), '(|(uid=a\\2a)(mail=a\\2a))');
});

t.test('absurd names are refused', async (t) => {
  t.equal(userNameProblem('alice'), null);
  t.equal(userNameProblem('jürgen 😀'), null);
  t.equal(userNameProblem('a'.repeat(256)), null);
  t.match(userNameProblem(''), /empty/);
  t.match(userNameProblem('a'.repeat(257)), /longer than 256/);
  t.match(userNameProblem('ü'.repeat(129)), /longer than 256/); // 258 UTF-8 bytes
  t.match(userNameProblem('a\u0000b'), /control/);
  t.match(userNameProblem('alice\n'), /control/);
  t.match(userNameProblem('a\u007f'), /control/);
  t.match(userNameProblem('a\ud800'), /Unicode/);
  t.match(userNameProblem('\udc00a'), /Unicode/);
});

t.test('the attribute that names the user', async (t) => {
  t.equal(userAttributeOf('(uid={user})'), 'uid');
  t.equal(userAttributeOf('(&(objectClass=user)(sAMAccountName={user}))'), 'sAMAccountName');
  t.equal(userAttributeOf('(|(uid={user})(mail={user}))'), 'uid');
  t.equal(userAttributeOf('(mail={user}@example.com)'), null);
});
