/** user, token, app-password and enroll commands, in-process. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliWorkspace, interruptedRotation } from '../helpers/cli.js';
import { totpCode, hotpCode } from '../helpers/oathtool.js';
import { base32Decode, base32Encode } from '../../src/tokens/base32.js';
import { writeFileSync } from 'node:fs';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';

t.test('usage errors exit 2; unknown commands too', async (t) => {
  const r = await cli([]);
  t.equal(r.code, 2);
  t.match(r.stderr, /name a command/);
  t.equal((await cli(['frobnicate'])).code, 2);
  t.equal((await cli(['user'])).code, 2);
  const help = await cli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /radius-otp serve/);
});

t.test('a usage error stops the command before it runs: nothing is written', async (t) => {
  const w = cliWorkspace();
  const csv = join(w.dir, 'one.csv');
  writeFileSync(csv, 'TYPO1,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXZ,30\n');
  const typo = await w.run(['import', 'csv', csv, '--dryrun']);
  t.equal(typo.code, 2);
  t.equal(typo.stdout, '', 'no import report');
  t.equal(typo.stderr, 'radius-otp: Unknown argument: dryrun\n');
  t.equal((await w.run(['token', 'list', '--json'])).stdout, '[]\n', 'nothing imported');

  t.equal((await w.run(['import', 'csv', csv])).code, 0);
  t.equal((await w.run(['token', 'delete', 'TYPO1', 'extra'])).code, 2, 'an extra argument');
  t.equal((await w.run(['token', 'disable', 'TYPO1', '--bogus'])).code, 2, 'an unknown option');
  t.match(JSON.parse((await w.run(['token', 'show', 'TYPO1', '--json'])).stdout), { serial: 'TYPO1', enabled: true }, 'still there, still enabled');

  const missing = await w.run(['token', 'assign']);
  t.equal(missing.code, 2, 'a missing <serial> is a usage error, not a lookup of "undefined"');
  t.notMatch(missing.stderr, /undefined/);
  t.equal((await w.run(['import', 'csv'])).code, 2);
  t.equal((await w.run(['token', 'resync', 'TYPO1', '123456'])).code, 2, 'CODE2 missing');
  const noValue = await w.run(['token', 'list', '--user']);
  t.equal(noValue.code, 2, 'an option without its value');
  t.match(noValue.stderr, /user/);
});

t.test('users: add with and without password, passwd, list, groups, enable/disable, delete, reset', async (t) => {
  const w = cliWorkspace();
  const add = await w.run(['user', 'add', 'alice', '--password-stdin'], 'hunter2\n');
  t.equal(add.code, 0, add.stderr);
  t.match(add.stdout, 'user alice added');
  t.notMatch(add.stdout + add.stderr, /hunter2/);
  t.equal((await w.run(['user', 'add', 'alice'])).code, 1, 'exists');
  t.match((await w.run(['user', 'add', 'bob'])).stdout, '(no password)');
  t.equal((await w.run(['user', 'add', ' bad'])).code, 1, 'bad name');
  t.equal((await w.run(['user', 'add', 'x', '--password-stdin'], '\n')).code, 1, 'empty password');
  t.equal((await w.run(['user', 'passwd', 'alice', '--password-stdin'], 'new\n')).code, 0);
  t.equal((await w.run(['user', 'passwd', 'nobody', '--password-stdin'], 'new\n')).code, 1);
  t.equal((await w.run(['user', 'group-add', 'alice', 'vpn-admins'])).code, 0);
  t.equal((await w.run(['user', 'group-add', 'nobody', 'g'])).code, 1);
  t.equal((await w.run(['user', 'disable', 'bob'])).code, 0);
  t.equal((await w.run(['user', 'disable', 'nobody'])).code, 1);
  const list = await w.run(['user', 'list', '--json']);
  t.match(JSON.parse(list.stdout), [
    { name: 'alice', password: true, enabled: true, groups: ['vpn-admins'], tokens: 0 },
    { name: 'bob', password: false, enabled: false, groups: [] },
  ]);
  const table = await w.run(['user', 'list']);
  t.match(table.stdout, /^name\s+password\s+enabled/);
  t.equal((await w.run(['user', 'enable', 'bob'])).code, 0);
  t.equal((await w.run(['user', 'group-remove', 'alice', 'vpn-admins'])).code, 0);
  t.equal((await w.run(['user', 'group-remove', 'alice', 'vpn-admins'])).code, 1);
  t.match((await w.run(['user', 'reset', 'alice'])).stdout, '0 token(s) unassigned, 0 app password(s) revoked');
  t.equal((await w.run(['user', 'reset', 'nobody'])).code, 1);
  t.equal((await w.run(['user', 'delete', 'bob'])).code, 0);
  t.equal((await w.run(['user', 'delete', 'bob'])).code, 1);
  t.match((await w.run(['user', 'list'])).stdout, /alice/);
  const empty = cliWorkspace();
  t.equal((await empty.run(['user', 'list'])).stdout, '(none)\n');
});

t.test('tokens: list, show, assign, enable/disable, unlock, resync, delete — never a secret', async (t) => {
  const w = cliWorkspace();
  const secretTotp = Buffer.from('3132333435363738393031323334353637383930', 'hex');
  writeFileSync(join(w.dir, 't.csv'), `serial,secret,interval\nT1,${base32Encode(secretTotp)},30\n`);
  t.equal((await w.run(['import', 'csv', join(w.dir, 't.csv')])).code, 0);
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['token', 'assign', 'T1', 'alice'])).code, 0);
  t.equal((await w.run(['token', 'assign', 'NOPE', 'alice'])).code, 1);
  const typo = await w.run(['token', 'assign', 'T1', 'alcie']);
  t.equal(typo.code, 1, 'a user that does not exist, and no directory to find it in');
  t.match(typo.stderr, /no user alcie/);
  const withDirectory = cliWorkspace('[ldap]\nurls = ["ldap://127.0.0.1:1"]\nbase_dn = "dc=example,dc=org"\n');
  writeFileSync(join(withDirectory.dir, 't.csv'), `serial,secret,interval\nD1,${base32Encode(secretTotp)},30\n`);
  t.equal((await withDirectory.run(['import', 'csv', join(withDirectory.dir, 't.csv')])).code, 0);
  t.equal((await withDirectory.run(['token', 'assign', 'D1', 'dir-user'])).code, 0, 'with [ldap], a directory name');
  const list = await w.run(['token', 'list', '--json']);
  t.match(JSON.parse(list.stdout), [{ serial: 'T1', type: 'totp', algorithm: 'SHA1', digits: 6, user: 'alice', enabled: true, locked: false }]);
  t.match((await w.run(['token', 'list', '--user', 'alice'])).stdout, /T1/);
  t.equal((await w.run(['user', 'add', 'bob'])).code, 0);
  t.equal((await w.run(['token', 'list', '--user', 'bob'])).stdout, '(none)\n', 'a user without tokens');
  const show = await w.run(['token', 'show', 'T1']);
  t.match(show.stdout, /serial:\s+T1/);
  const showJson = JSON.parse((await w.run(['token', 'show', 'T1', '--json'])).stdout) as Record<string, unknown>;
  t.equal(showJson.period, 30);
  t.equal((await w.run(['token', 'show', 'NOPE'])).code, 1);
  for (const out of [list.stdout, show.stdout]) {
    t.notMatch(out, base32Encode(secretTotp));
    t.notMatch(out, secretTotp.toString('hex'));
  }
  t.equal((await w.run(['token', 'disable', 'T1'])).code, 0);
  t.equal((await w.run(['token', 'enable', 'T1'])).code, 0);
  t.equal((await w.run(['token', 'enable', 'NOPE'])).code, 1);
  t.equal((await w.run(['token', 'unlock', 'T1'])).code, 0);
  t.equal((await w.run(['token', 'unlock', 'NOPE'])).code, 1);

  // Resync: two consecutive codes 20 steps ahead of now → drift 20.
  const now = Math.floor(Date.now() / 1000);
  const hex = secretTotp.toString('hex');
  const c1 = totpCode(hex, now + 20 * 30);
  const c2 = totpCode(hex, now + 21 * 30);
  const rs = await w.run(['token', 'resync', 'T1', c1, c2]);
  t.equal(rs.code, 0, rs.stderr);
  t.match(rs.stdout, /drift (20|21) step/);
  t.equal((await w.run(['token', 'resync', 'T1', c1, c2])).code, 0, 'the same pair still resyncs (no second use of codes at login)');
  t.equal((await w.run(['token', 'resync', 'T1', c2, c1])).code, 1, 'not consecutive');
  t.equal((await w.run(['token', 'resync', 'T1', '12', '34'])).code, 1, 'wrong shape');
  t.equal((await w.run(['token', 'resync', 'NOPE', '123456', '123456'])).code, 1);
  t.equal((await w.run(['token', 'unassign', 'T1'])).code, 0);
  t.equal((await w.run(['token', 'unassign', 'NOPE'])).code, 1);
  t.equal((await w.run(['token', 'delete', 'T1'])).code, 0);
  t.equal((await w.run(['token', 'delete', 'T1'])).code, 1);
});

t.test('app passwords: shown once, listed without the password, revoked', async (t) => {
  const w = cliWorkspace();
  const ghost = await w.run(['app-password', 'create', 'ghost']);
  t.equal(ghost.code, 1, 'no such user, no directory: refused');
  t.equal(ghost.stdout, '', 'no password printed');
  t.match(ghost.stderr, /no user ghost/);
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  const made = await w.run(['app-password', 'create', 'alice', '--label', 'mail']);
  t.equal(made.code, 0);
  const password = /: ([a-z2-7]{4}(?:-[a-z2-7]{4}){5})\n/.exec(made.stdout)?.[1];
  t.ok(password, 'printed once');
  const json = JSON.parse((await w.run(['app-password', 'create', 'alice', '--json'])).stdout) as { id: number; password: string };
  t.match(json.password, /^[a-z2-7-]{29}$/);
  const list = await w.run(['app-password', 'list', 'alice']);
  t.match(list.stdout, /mail/);
  t.notMatch(list.stdout, password as string);
  t.equal((await w.run(['app-password', 'revoke', 'alice', String(json.id)])).code, 0);
  t.equal((await w.run(['app-password', 'revoke', 'alice', String(json.id)])).code, 1);
  t.equal((await w.run(['app-password', 'revoke', 'alice'])).code, 2, 'needs an id or --all');
  t.match((await w.run(['app-password', 'revoke', 'alice', '--all'])).stdout, '1 app password(s) of alice revoked');
  t.equal((await w.run(['app-password', 'list', 'alice', '--json'])).stdout, '[]\n');
  for (const [label, said] of [
    ['mail\x1b[2J', 'radius-otp: --label "mail\\u001b[2J" contains control characters\n'],
    ['mail\u009b', 'radius-otp: --label "mail\\u009b" contains control characters\n'],
    ['m'.repeat(101), `radius-otp: --label "${'m'.repeat(101)}" is longer than 100 characters\n`],
  ]) {
    const bad = await w.run(['app-password', 'create', 'alice', '--label', label as string]);
    t.equal(bad.code, 2, 'a usage error');
    t.equal(bad.stderr, said);
    t.equal(bad.stdout, '', 'no password made or shown');
  }
  t.equal((await w.run(['app-password', 'create', 'alice', '--label', 'm'.repeat(100)])).code, 0, '100 characters are taken');
  t.equal(JSON.parse((await w.run(['app-password', 'list', 'alice', '--json'])).stdout).length, 1, 'only that one was made');
  const nobody = await w.run(['app-password', 'list', 'nobody', '--json']);
  t.equal(nobody.code, 1, 'a name that is nobody is refused, not an empty list');
  t.match(nobody.stderr, /no user nobody/);
  const tokens = await w.run(['token', 'list', '--user', 'nobody']);
  t.equal(tokens.code, 1);
  t.match(tokens.stderr, /no user nobody/);
});

t.test('enroll: otpauth URI and QR once; the token works with oathtool codes', async (t) => {
  const w = cliWorkspace('[otp]\nissuer = "ACME VPN"\n');
  const ghost = await w.run(['enroll', 'ghost']);
  t.equal(ghost.code, 1, 'no such user, no directory: refused');
  t.notMatch(ghost.stdout, /otpauth/, 'no secret shown');
  t.equal((await w.run(['token', 'list', '--json'])).stdout, '[]\n', 'no token made');
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  const r = await w.run(['enroll', 'alice', '--serial', 'SOFT1']);
  t.equal(r.code, 0, r.stderr);
  const uri = /otpauth:\/\/totp\/\S+/.exec(r.stdout)?.[0] as string;
  const u = new URL(uri);
  t.equal(decodeURIComponent(u.pathname), '/ACME VPN:alice');
  t.equal(u.searchParams.get('issuer'), 'ACME VPN');
  t.match(r.stdout, /[▀▄█]/, 'a terminal QR code');
  const secret = base32Decode(u.searchParams.get('secret') as string);
  t.ok(secret.ok && secret.bytes.length === 20);
  const json = JSON.parse((await w.run(['enroll', 'alice', '--json'])).stdout) as { serial: string; uri: string };
  t.match(json.serial, /^SW[0-9A-F]{10}$/);
  t.equal((await w.run(['enroll', 'bob', '--serial', 'SOFT1'])).code, 1, 'serial exists');
  const db = readFileSync(join(w.dir, 'db', 'radius-otp.db'));
  const b32 = u.searchParams.get('secret') as string;
  t.notOk(db.includes(b32) || db.includes(Buffer.from(b32)), 'the Base32 secret is not in the database file');
  if (secret.ok) t.notOk(db.includes(secret.bytes), 'the raw secret is not in the database file');
});

t.test('HOTP resync through the CLI: two consecutive counter codes set the next counter', async (t) => {
  const w = cliWorkspace();
  const fig3 = new URL('../fixtures/pskc/rfc6030/figure3.pskcxml', import.meta.url).pathname;
  const imported = await w.run(['import', 'pskc', fig3, '--create-users']);
  t.equal(imported.code, 0, imported.stderr);
  const key = Buffer.from('12345678901234567890').toString('hex');
  const r = await w.run(['token', 'resync', '987654321', hotpCode(key, 40, 8), hotpCode(key, 41, 8)]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'next counter 42');
  t.match(JSON.parse((await w.run(['token', 'show', '987654321', '--json'])).stdout), { counter: 42 });
  t.equal((await w.run(['token', 'resync', '987654321', hotpCode(key, 41, 8), hotpCode(key, 40, 8)])).code, 1, 'not consecutive');
});

t.test('an unexpected fault is one line on stderr, exit 1', async (t) => {
  const { runCli } = await import('../../src/cli/main.js');
  let err = '';
  const code = await runCli(['user', 'add', 'x', '--password-stdin', '--config', cliWorkspace().config], {
    stdout: () => {},
    stderr: (s) => void (err += s),
    readStdin: () => Promise.reject(new Error('standard input closed')),
    isTTY: false,
  });
  t.equal(code, 1);
  t.equal(err, 'radius-otp: standard input closed\n');
});

t.test('store errors name at most 20 records; command groups do nothing by themselves', async (t) => {
  const { describeStoreError } = await import('../../src/cli/main.js');
  const { StoreError } = await import('../../src/store/types.js');
  const { commandGroup } = await import('../../src/cli/io.js');
  t.equal(describeStoreError(new StoreError('database', 'cannot open')), 'cannot open');
  t.equal(describeStoreError(new StoreError('serial-exists', 'exists', ['A', 'B'])), 'exists: A, B');
  const many = Array.from({ length: 23 }, (_, i) => `S${i}`);
  t.equal(describeStoreError(new StoreError('serial-exists', 'exists', many)), `exists: ${many.slice(0, 20).join(', ')}, and 3 more`);
  t.equal(commandGroup(), undefined);
});

/** Writes to a workspace's store directly: data an older version (or another tool) left there. */
function withWorkspaceStore(dir: string, fn: (store: Store) => void): void {
  const store = openStore({ store: { path: join(dir, 'db', 'radius-otp.db'), key_file: join(dir, 'db', 'master.key') } }, () => {});
  try {
    fn(store);
  } finally {
    store.close();
  }
}

t.test('token assign: a token another user has is moved only with --force, and says from whom', async (t) => {
  const w = cliWorkspace();
  for (const u of ['alice', 'bob']) t.equal((await w.run(['user', 'add', u])).code, 0);
  t.equal((await w.run(['enroll', 'alice', '--serial', 'HW1'])).code, 0);
  const owner = async () => (JSON.parse((await w.run(['token', 'show', 'HW1', '--json'])).stdout) as { user: string }).user;

  const typo = await w.run(['token', 'assign', 'HW1', 'bob']);
  t.equal(typo.code, 1, 'refused');
  t.equal(typo.stderr, 'radius-otp: token HW1 is assigned to alice: to move it to bob, add --force\n');
  t.equal(typo.stdout, '');
  t.equal(await owner(), 'alice', 'still alice’s');

  const again = await w.run(['token', 'assign', 'HW1', 'alice']);
  t.equal(again.code, 0, 'to the user who has it: nothing to do');
  t.equal(again.stdout, 'token HW1 is already assigned to alice\n');

  const moved = await w.run(['token', 'assign', 'HW1', 'bob', '--force']);
  t.equal(moved.code, 0, moved.stderr);
  t.equal(moved.stdout, 'token HW1 moved from alice to bob\n');
  t.equal(await owner(), 'bob');

  t.equal((await w.run(['token', 'unassign', 'HW1'])).code, 0);
  t.equal((await w.run(['token', 'assign', 'HW1', 'alice'])).stdout, 'token HW1 assigned to alice\n', 'an unassigned token needs no --force');
  t.equal((await w.run(['token', 'assign', 'NOPE', 'alice', '--force'])).stderr, 'radius-otp: no token with serial NOPE\n');
});

t.test('serials: enroll refuses an empty, blank, padded, over-long or control-character serial; messages escape them', async (t) => {
  const w = cliWorkspace();
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  const refused: Array<[string, string]> = [
    ['', 'radius-otp: --serial "" is empty\n'],
    ['   ', 'radius-otp: --serial "   " is empty\n'],
    [' HW1', 'radius-otp: --serial " HW1" has spaces at its start or end\n'],
    ['HW\x071', 'radius-otp: --serial "HW\\u00071" contains control characters\n'],
    ['HW\x1b[2J', 'radius-otp: --serial "HW\\u001b[2J" contains control characters\n'],
    ['HW\x7f', 'radius-otp: --serial "HW\\u007f" contains control characters\n'],
    ['HW\u009b2J', 'radius-otp: --serial "HW\\u009b2J" contains control characters\n'],
    ['S'.repeat(129), `radius-otp: --serial "${'S'.repeat(129)}" is longer than 128 characters\n`],
  ];
  for (const [serial, message] of refused) {
    const r = await w.run(['enroll', 'alice', '--serial', serial]);
    t.equal(r.code, 1, JSON.stringify(serial));
    t.equal(r.stderr, message);
    t.notMatch(r.stdout, /otpauth/, 'no secret shown');
  }
  t.equal((await w.run(['enroll', 'alice', '--serial', 'S'.repeat(128)])).code, 0, '128 characters are fine');
  t.equal((await w.run(['enroll', 'alice', '--serial', 'Soft token #2 (Anna’s phone)'])).code, 0, 'spaces inside and any printable text are fine');
  t.equal(JSON.parse((await w.run(['token', 'list', '--json'])).stdout).length, 2, 'only those two were made');

  // A serial with control characters typed on the command line, or stored before they were refused,
  // never reaches the terminal raw: messages and tables quote and escape it.
  const miss = await w.run(['token', 'delete', 'X\x1b[2J\u009b']);
  t.equal(miss.stderr, 'radius-otp: no token with serial "X\\u001b[2J\\u009b"\n');
  withWorkspaceStore(w.dir, (store) => {
    store.tokens.importMany([{ serial: 'OLD\x1b[31m', type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0, counter: 0, drift: 0, secret: Buffer.alloc(20, 1) }], { replace: false, createUsers: false });
  });
  t.equal((await w.run(['token', 'assign', 'OLD\x1b[31m', 'alice'])).stdout, 'token "OLD\\u001b[31m" assigned to alice\n');
  const list = await w.run(['token', 'list']);
  const show = await w.run(['token', 'show', 'OLD\x1b[31m']);
  for (const out of [list.stdout, show.stdout]) {
    t.notMatch(out, '\x1b', 'no raw escape');
    t.match(out, '"OLD\\u001b[31m"');
  }
  t.match(JSON.parse((await w.run(['token', 'list', '--json'])).stdout), [{ serial: 'OLD\x1b[31m' }], 'JSON keeps the serial as it is');
  t.equal((await w.run(['token', 'delete', 'OLD\x1b[31m'])).stdout, 'token "OLD\\u001b[31m" deleted\n', 'and it can be deleted');

  const bad = await w.run(['user', 'add', 'eve\u0085']);
  t.equal(bad.code, 1, 'a C1 control character in a user name too');
  t.equal(bad.stderr, 'radius-otp: user name "eve\\u0085" is not valid: 1-253 bytes, no control characters or surrounding spaces\n');
  t.equal((await w.run(['user', 'passwd', 'eve\x1b', '--password-stdin'], 'pw\n')).stderr, 'radius-otp: no user "eve\\u001b"\n');
});

t.test('groups: LDAP DNs are one group; empty and control-character names are refused; --json gives an array', async (t) => {
  const w = cliWorkspace();
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['user', 'add', 'bob'])).code, 0);
  const dn = 'CN=VPN Admins,OU=Groups,DC=example,DC=com';
  t.equal((await w.run(['user', 'group-add', 'alice', dn])).stdout, `alice is in group ${dn}\n`);
  t.equal((await w.run(['user', 'group-add', 'alice', 'helpdesk'])).code, 0);
  for (const [group, shown] of [['', '""'], ['  ', '"  "'], [' vpn', '" vpn"'], ['vpn\nadmins', '"vpn\\nadmins"'], ['vpn\u009b', '"vpn\\u009b"']]) {
    const r = await w.run(['user', 'group-add', 'bob', group as string]);
    t.equal(r.code, 1, JSON.stringify(group));
    t.equal(r.stderr, `radius-otp: group name ${shown} is not valid: not empty, no control characters or surrounding spaces\n`);
  }
  const json = JSON.parse((await w.run(['user', 'list', '--json'])).stdout) as Array<{ name: string; groups: string[] }>;
  t.same(
    json.map((u) => [u.name, u.groups]),
    [
      ['alice', [dn, 'helpdesk']],
      ['bob', []],
    ],
    'each group whole, in an array; none is []',
  );
  const table = (await w.run(['user', 'list'])).stdout.split('\n');
  t.match(table[1], new RegExp(`^alice\\s+false\\s+true\\s+${dn}\\s+0\\s+\\d{4}-`), 'the first group on the user’s line');
  t.match(table[2], /^\s+helpdesk$/, 'the next one below it, alone');
  t.match(table[3], /^bob\s+false\s+true\s+-\s+0/);

  // A group stored before such names were refused can still be removed, and is shown escaped.
  withWorkspaceStore(w.dir, (store) => store.users.addToGroup('bob', 'old\x1b[2J'));
  const listed = (await w.run(['user', 'list'])).stdout;
  t.match(listed, /^bob\s+false\s+true\s+"old\\u001b\[2J"\s+0/m);
  t.notMatch(listed, '\x1b');
  const removed = await w.run(['user', 'group-remove', 'bob', 'old\x1b[2J']);
  t.equal(removed.stdout, 'bob removed from group "old\\u001b[2J"\n');
  t.equal((await w.run(['user', 'group-remove', 'bob', 'old\x1b[2J'])).stderr, 'radius-otp: bob is not in group "old\\u001b[2J"\n');
  t.equal((await w.run(['user', 'group-remove', 'nobody', dn])).stderr, 'radius-otp: no user nobody\n');
});

t.test('app-password revoke: an ID or --all, and which is missing or extra', async (t) => {
  const w = cliWorkspace();
  const none = await w.run(['app-password', 'revoke', 'bob']);
  t.equal(none.code, 2);
  t.equal(none.stderr, 'radius-otp: give an app password ID or --all\n');
  const both = await w.run(['app-password', 'revoke', 'bob', '1', '--all']);
  t.equal(both.code, 2);
  t.equal(both.stderr, 'radius-otp: give an app password ID or --all, not both\n');
});

t.test('enroll: a serial already stored is refused with a hint enroll can follow', async (t) => {
  const w = cliWorkspace();
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['enroll', 'alice', '--serial', 'SOFT1'])).code, 0);
  const before = (await w.run(['token', 'show', 'SOFT1', '--json'])).stdout;
  const dup = await w.run(['enroll', 'alice', '--serial', 'SOFT1']);
  t.equal(dup.code, 1);
  t.equal(dup.stderr, 'radius-otp: token SOFT1 already exists: choose another --serial, or delete that token first\n');
  t.notMatch(dup.stdout, /otpauth/);
  t.equal((await w.run(['token', 'show', 'SOFT1', '--json'])).stdout, before, 'the token is untouched');
});

t.test('client list reads the store without writing: with none yet it creates nothing', async (t) => {
  const w = cliWorkspace('[[client]]\nname = "gw"\naddress = "192.0.2.1"\nsecret = "gw-secret-0123456789"\nrequire_message_authenticator = "auto"\n');
  const { mkdirSync, readdirSync } = await import('node:fs');
  mkdirSync(join(w.dir, 'db'));
  const r = await w.run(['client', 'list', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), [{ name: 'gw', require_message_authenticator: 'auto', effective: 'undecided' }]);
  t.same(readdirSync(join(w.dir, 'db')), [], 'no database, no key file');
  t.notMatch(r.stdout, /gw-secret/);
});

t.test('key rotate: what it did, as text or JSON, never a key; refused without a store', async (t) => {
  const w = cliWorkspace();
  t.equal((await w.run(['key'])).code, 2, 'a key command is needed');
  const none = await w.run(['key', 'rotate']);
  t.equal(none.code, 1);
  t.match(none.stderr, /no store at .*radius-otp\.db: nothing to rotate/);
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['enroll', 'alice', '--serial', 'K-1'])).code, 0);
  const keyFile = join(w.dir, 'db', 'master.key');
  const first = readFileSync(keyFile, 'utf8').trim();
  const text = await w.run(['key', 'rotate']);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^1 token secret\(s\) sealed again under a new master key in .*master\.key \(key id [0-9a-f]{8}\)\nthe previous key \(id ([0-9a-f]{8})\) is in .*master\.key\.\1: /);
  const second = readFileSync(keyFile, 'utf8').trim();
  const json = await w.run(['key', 'rotate', '--json']);
  t.equal(json.code, 0);
  const r = JSON.parse(json.stdout) as Record<string, unknown>;
  t.match(r, { tokens: 1, key_file: keyFile, key_id: /^[0-9a-f]{8}$/, previous_key_id: /^[0-9a-f]{8}$/ });
  t.equal(r.previous_key_file, `${keyFile}.${r.previous_key_id as string}`);
  for (const k of [first, second, readFileSync(keyFile, 'utf8').trim()]) t.notOk((text.stdout + json.stdout).includes(k), 'no key printed');
  t.match(JSON.parse((await w.run(['token', 'show', 'K-1', '--json'])).stdout), { serial: 'K-1', user: 'alice' }, 'the token is still there');
});

t.test('any command that finishes an interrupted key rotation says so on stderr, and goes on', async (t) => {
  const w = await interruptedRotation(t);
  const r = await w.run(['token', 'unlock', 'R-1']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^radius-otp: a key rotation was interrupted after the store was sealed again: .*master\.key\.new renamed to .*master\.key\n$/);
  t.match(r.stdout, /R-1/);
  const next = await w.run(['token', 'unlock', 'R-1']);
  t.equal(next.stderr, '', 'once');
});
