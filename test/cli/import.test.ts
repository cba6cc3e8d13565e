/**
 * `import pskc|csv` driven in-process through runCli, against a real SQLite store in a temp
 * directory. Every invalid fixture must exit 1, name its record, and leave the database file
 * byte-for-byte unchanged.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli as runCli } from '../helpers/cli.js';
import { testConfig } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const require = createRequire(import.meta.url);
const FIX = new URL('../fixtures/', import.meta.url).pathname;
const fig = (n: number): string => join(FIX, `pskc/rfc6030/figure${n}.pskcxml`);
const FIG6_KEY = '12345678901234567890123456789012';

// Never in any output: the RFC seeds in hex, base64 and Base32, the keys and the passwords.
const FORBIDDEN = ['3132333435363738393031323334353637383930', 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA', 'GEZDGNBVGY3TQOJQ', FIG6_KEY, 'qwerty', 'Correct-Horse-7', '000102030405060708090a0b0c0d0e0f'];

interface Run {
  code: number;
  out: string;
  err: string;
  progress: string;
}

const everything: string[] = [];

async function cli(args: string[], opts: { stdin?: string; tty?: boolean } = {}): Promise<Run> {
  const r = await runCli(args, opts.stdin ?? '', { isTTY: opts.tty === true });
  everything.push(r.stdout, r.stderr, r.progress);
  return { code: r.code, out: r.stdout, err: r.stderr, progress: r.progress };
}

function workspace(): { config: string; db: string; dir: string } {
  const dir = tempDir('radius-otp-import-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, testConfig(dir));
  return { config, db: join(dir, 'radius-otp.db'), dir };
}

const hash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

async function tokens(config: string): Promise<Array<Record<string, unknown>>> {
  const r = await cli(['token', 'list', '--json', '--config', config]);
  return JSON.parse(r.out) as Array<Record<string, unknown>>;
}

t.test('pskc: figure 6 with --key-hex, figure 7 with --password-stdin, make_pskc.py files', async (t) => {
  const w = workspace();
  const r6 = await cli(['import', 'pskc', fig(6), '--key-hex', FIG6_KEY, '--config', w.config]);
  t.equal(r6.code, 0, r6.err);
  t.match(r6.out, /^imported 1 token from .*figure6\.pskcxml \(0 replaced, 0 users created\) in \d+\.\d s\n$/);
  t.match(await tokens(w.config), [{ serial: '987654321', type: 'hotp', digits: 8 }]);

  const r7 = await cli(['import', 'pskc', fig(7), '--password-stdin', '--replace', '--config', w.config], { stdin: 'qwerty\nignored\n' });
  t.equal(r7.code, 0, r7.err);
  t.match(r7.out, /imported 1 token .*\(1 replaced, 0 users created\)/);

  const gen = join(FIX, 'pskc/generated');
  const keyFile = join(w.dir, 'psk.hex');
  writeFileSync(keyFile, '000102030405060708090a0b0c0d0e0f\n', { mode: 0o600 });
  const plain = await cli(['import', 'pskc', join(gen, 'plain.pskcxml'), '--json', '--config', w.config]);
  t.equal(plain.code, 0, plain.err);
  t.match(JSON.parse(plain.out), { imported: 4, replaced: 0, usersCreated: 0 });
  const psk = await cli(['import', 'pskc', join(gen, 'preshared.pskcxml'), '--key-file', keyFile, '--replace', '--config', w.config]);
  t.equal(psk.code, 0, psk.err);
  t.match(psk.out, /imported 4 tokens .*\(4 replaced/);
  const pbe = await cli(['import', 'pskc', join(gen, 'pbkdf2.pskcxml'), '--password-stdin', '--replace', '--config', w.config], { stdin: 'Correct-Horse-7' });
  t.equal(pbe.code, 0, pbe.err);
  const list = await tokens(w.config);
  t.equal(list.length, 5);
  t.match(list.find((x) => x.serial === 'GEN-TOTP-SHA512'), { algorithm: 'SHA512', digits: 8, period: 60 });
});

t.test('pskc: a raw 16-byte key file; wrong-format keys and unreadable files are one line, exit 1', async (t) => {
  const w = workspace();
  const raw = join(w.dir, 'psk.bin');
  writeFileSync(raw, Buffer.from(FIG6_KEY, 'hex'), { mode: 0o600 });
  t.equal((await cli(['import', 'pskc', fig(6), '--key-file', raw, '--config', w.config])).code, 0);

  const bad = async (args: string[], re: RegExp, stdin?: string) => {
    const r = await cli([...args, '--config', w.config], { stdin });
    t.equal(r.code, 1, args.join(' '));
    t.match(r.err, re);
    t.equal(r.err.trim().split('\n').length, 1, 'one line');
  };
  await bad(['import', 'pskc', fig(6), '--key-hex', 'zz'], /^radius-otp: --key-hex: not an AES key/);
  await bad(['import', 'pskc', fig(6), '--key-hex', '0011'], /--key-hex: not an AES key/);
  const short = join(w.dir, 'short.key');
  writeFileSync(short, 'abc\n');
  await bad(['import', 'pskc', fig(6), '--key-file', short], new RegExp(`--key-file ${short}: not an AES key`));
  await bad(['import', 'pskc', fig(6), '--key-file', join(w.dir, 'none.key')], /--key-file .*none\.key: cannot read \(ENOENT\)/);
  await bad(['import', 'pskc', join(w.dir, 'missing.xml')], /missing\.xml: cannot read \(ENOENT\)/);
  await bad(['import', 'csv', w.dir], /: cannot read \(EISDIR\)/);
  await bad(['import', 'pskc', fig(7), '--password-stdin'], /--password-stdin: the password is empty/, '\n');
  const both = await cli(['import', 'pskc', fig(6), '--key-hex', FIG6_KEY, '--password-stdin', '--config', w.config]);
  t.equal(both.code, 2, 'conflicting options are a usage error');
  t.equal((await cli(['import', 'xml', fig(6), '--config', w.config])).code, 2);
});

t.test('warnings (figure 5 PIN key, figure 9 signature) are printed; the import goes on', async (t) => {
  const w = workspace();
  const r5 = await cli(['import', 'pskc', fig(5), '--config', w.config]);
  t.equal(r5.code, 0);
  t.match(r5.err, /^warning: .*figure5\.pskcxml: KeyPackage 2: Key: a PIN key/);
  const r9 = await cli(['import', 'pskc', fig(9), '--config', w.config]);
  t.equal(r9.code, 0);
  t.match(r9.err, /warning: .*figure9\.pskcxml: Signature: carries an XML signature that is not verified/);
  const pinOnly = join(w.dir, 'pin-only.xml');
  writeFileSync(pinOnly, readFileSync(fig(5), 'utf8').replace(/<KeyPackage>[\s\S]*?<\/KeyPackage>/, ''));
  const r = await cli(['import', 'pskc', pinOnly, '--config', w.config]);
  t.equal(r.code, 1);
  t.match(r.err, /pin-only\.xml: nothing imported \(no OTP tokens in the file\)/);
});

t.test('validity: a key past its ExpiryDate is refused; one not valid yet imports with a warning, its StartDate kept', async (t) => {
  const w = workspace();
  const expired = join(FIX, 'pskc/invalid/expired.pskcxml');
  for (const extra of [['--dry-run'], []]) {
    const r = await cli(['import', 'pskc', expired, ...extra, '--config', w.config]);
    t.equal(r.code, 1, extra.join(' '));
    t.equal(r.err, `${expired}: KeyPackage 1: ExpiryDate: 2020-06-30T00:00:00Z has passed: the key must not be used after it\nradius-otp: ${expired}: nothing imported (1 invalid record)\n`);
  }
  const later = join(w.dir, 'later.pskcxml');
  writeFileSync(later, readFileSync(expired, 'utf8').replace('<pskc:ExpiryDate>2020-06-30T00:00:00Z</pskc:ExpiryDate>', '<pskc:StartDate>2099-01-01T00:00:00Z</pskc:StartDate>'));
  const r = await cli(['import', 'pskc', later, '--config', w.config]);
  t.equal(r.code, 0, r.err);
  t.equal(r.err, `warning: ${later}: KeyPackage 1: StartDate: 2099-01-01T00:00:00Z is still to come: the token is refused until then\n`);
  const shown = await cli(['token', 'show', 'GEN-TOTP-SHA1', '--json', '--config', w.config]);
  t.match(JSON.parse(shown.out), { valid_from: '2099-01-01T00:00:00.000Z', valid_until: null });
});

t.test('an import while another connection holds the write lock waits its turn instead of failing "database is locked"', async (t) => {
  const w = workspace();
  t.equal((await cli(['user', 'add', 'busy', '--config', w.config])).code, 0, 'the store exists');
  // Another connection holding the write lock nearly all the time (100 ms at a stretch, for
  // 1.5 s), as a busy server's batches do in turns. A deferred transaction that has read cannot
  // wait for the lock (SQLite returns SQLITE_BUSY at once); an immediate one waits busy_timeout.
  const writer = spawn(process.execPath, ['-e', `
    const db = require(${JSON.stringify(require.resolve('better-sqlite3'))})(${JSON.stringify(w.db)});
    db.pragma('busy_timeout = 5000');
    const touch = db.prepare('UPDATE users SET created_at = created_at WHERE name = ?');
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const end = Date.now() + 1500;
    console.log('writing');
    const tick = () => {
      db.transaction(() => { touch.run('busy'); Atomics.wait(nap, 0, 0, 100); }).immediate();
      if (Date.now() < end) setTimeout(tick, 1); else db.close();
    };
    tick();
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  await new Promise((resolve) => writer.stdout!.once('data', resolve));
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    const r = await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--replace', '--config', w.config]);
    t.equal(r.code, 0, `import ${i + 1}: ${r.err}`);
  }
  await exited;
});

t.test('csv: users must exist unless --create-users; serials refused unless --replace; dry run writes nothing', async (t) => {
  const w = workspace();
  const azure = join(FIX, 'csv/valid/azure.csv');
  // Create the store first (an empty import would not), then hash it.
  t.equal((await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--config', w.config])).code, 0);
  const before = hash(w.db);

  const noUsers = await cli(['import', 'csv', azure, '--config', w.config]);
  t.equal(noUsers.code, 1);
  t.match(noUsers.err, /^\S*azure\.csv: line 2: upn: user alice@example\.com not found \(use --create-users\)\n\S*azure\.csv: line 3: upn: user bob@example\.com not found/);
  t.match(noUsers.err, /azure\.csv: nothing imported \(2 invalid records\)\n$/);
  t.equal(hash(w.db), before, 'unknown users: database unchanged');

  const dry = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', w.config]);
  t.equal(dry.code, 0, dry.err);
  t.match(dry.out, /^serial +type +algorithm +digits +period +counter +user +action\n/);
  t.match(dry.out, /AZ-0001 +totp +SHA1 +6 +30 +- +alice@example\.com +add/);
  t.match(dry.out, /dry run: would import 2 tokens from .*azure\.csv \(0 replaced, 2 users created\); nothing written/);
  t.equal(hash(w.db), before, 'dry run: database unchanged');

  const ok = await cli(['import', 'csv', azure, '--create-users', '--config', w.config]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /imported 2 tokens from .*azure\.csv \(0 replaced, 2 users created\)/);
  const stored = await tokens(w.config);
  t.same(stored.map((x) => [x.serial, x.user]).sort(), [['AZ-0001', 'alice@example.com'], ['AZ-0002', 'bob@example.com'], ['HL-1', null], ['HL-2', null], ['HL-3', null]]);

  const after = hash(w.db);
  const again = await cli(['import', 'csv', azure, '--config', w.config]);
  t.equal(again.code, 1);
  t.match(again.err, /azure\.csv: line 2: serial number: serial AZ-0001 is already in the store \(use --replace\)\n.*azure\.csv: line 3: serial number: serial AZ-0002 is already/);
  t.equal(hash(w.db), after, 'existing serials: database unchanged');

  const dryJson = await cli(['import', 'csv', azure, '--dry-run', '--replace', '--json', '--config', w.config]);
  t.equal(dryJson.code, 0);
  t.match(JSON.parse(dryJson.out), { dryRun: true, replace: 2, createUsers: [], tokens: [{ serial: 'AZ-0001', action: 'replace', user: 'alice@example.com', period: 30, counter: null }] });
  t.equal(hash(w.db), after);

  const hotpDry = await cli(['import', 'pskc', fig(3), '--dry-run', '--create-users', '--config', w.config]);
  t.match(hotpDry.out, /987654321 +hotp +SHA1 +8 +- +0 +UID=jsmith,DC=example-bank,DC=net +add/);
  t.match(hotpDry.out, /\(0 replaced, 1 user created\)/);

  const replaced = await cli(['import', 'csv', azure, '--replace', '--config', w.config]);
  t.match(replaced.out, /imported 2 tokens .*\(2 replaced, 0 users created\)/);
});

t.test('serials already stored and missing users are named in the same pass as the other bad records', async (t) => {
  const w = workspace();
  t.equal((await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--config', w.config])).code, 0);
  t.equal((await cli(['user', 'add', 'carol', '--config', w.config])).code, 0);
  const before = hash(w.db);
  const csv = join(w.dir, 'mixed.csv');
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  writeFileSync(csv, `user,serial,secret\ncarol,NEW-1,${secret}\ncarol,NEW-2,not-base32\ncarol,HL-2,${secret}\ndave,NEW-3,${secret}\ndave,HL-3,${secret}\n`);
  for (const extra of [[], ['--dry-run']]) {
    const r = await cli(['import', 'csv', csv, ...extra, '--config', w.config]);
    t.equal(r.code, 1, extra.join(' '));
    t.same(r.err.split('\n'), [
      `${csv}: line 3: secret: is not Base32: it has a character outside A-Z and 2-7 at position 4`,
      `${csv}: line 4: serial: serial HL-2 is already in the store (use --replace)`,
      `${csv}: line 5: user: user dave not found (use --create-users)`,
      `${csv}: line 6: serial: serial HL-3 is already in the store (use --replace)`,
      `${csv}: line 6: user: user dave not found (use --create-users)`,
      `radius-otp: ${csv}: nothing imported (4 invalid records)`,
      '',
    ]);
  }
  // --replace and --create-users leave only the file's own fault.
  const r = await cli(['import', 'csv', csv, '--replace', '--create-users', '--config', w.config]);
  t.match(r.err, /^\S+: line 3: secret: [^\n]*\nradius-otp: \S+ nothing imported \(1 invalid record\)\n$/);
  t.equal(hash(w.db), before, 'database unchanged');

  const pskc = await cli(['import', 'pskc', fig(3), '--config', w.config]);
  t.equal(pskc.code, 1);
  t.match(pskc.err, /figure3\.pskcxml: KeyPackage 1: UserId: user UID=jsmith,DC=example-bank,DC=net not found \(use --create-users\)\n/);
  t.equal((await cli(['import', 'pskc', fig(3), '--create-users', '--config', w.config])).code, 0);
  const again = await cli(['import', 'pskc', fig(3), '--dry-run', '--config', w.config]);
  t.equal(again.code, 1);
  t.match(again.err, /figure3\.pskcxml: KeyPackage 1: SerialNo: serial 987654321 is already in the store \(use --replace\)\n/);
});

t.test('a dry run, or a refused file, creates nothing: no data directory, database or key file', async (t) => {
  const dir = tempDir('radius-otp-import-');
  const config = join(dir, 'radius.conf');
  const data = join(dir, 'data');
  writeFileSync(config, testConfig(data));
  const azure = join(FIX, 'csv/valid/azure.csv');

  const dry = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', config]);
  t.equal(dry.code, 0, dry.err);
  t.match(dry.out, /AZ-0001 +totp +SHA1 +6 +30 +- +alice@example\.com +add/);
  t.match(dry.out, /dry run: would import 2 tokens from .*azure\.csv \(0 replaced, 2 users created\); nothing written/);
  const pskc = await cli(['import', 'pskc', fig(6), '--key-hex', FIG6_KEY, '--dry-run', '--json', '--config', config]);
  t.equal(pskc.code, 0, pskc.err);
  t.match(JSON.parse(pskc.out), { dryRun: true, replace: 0, tokens: [{ serial: '987654321', action: 'add' }] });
  // Without a store no user exists: the file is refused, for real as in a dry run, and still nothing is made.
  for (const extra of [['--dry-run'], []]) {
    const r = await cli(['import', 'csv', azure, ...extra, '--config', config]);
    t.equal(r.code, 1, extra.join(' '));
    t.match(r.err, /alice@example\.com/);
  }
  t.same(readdirSync(dir), ['radius.conf'], 'nothing created');

  // An existing store is read as it stands: its key file is not made again, no -wal/-shm is left behind.
  t.equal((await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--config', config])).code, 0);
  renameSync(join(data, 'master.key'), join(dir, 'master.key.saved'));
  const db = join(data, 'radius-otp.db');
  const before = hash(db);
  const listing = readdirSync(data);
  const keyless = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', config]);
  t.equal(keyless.code, 1, 'the import would meet the missing key: so does its dry run');
  t.match(keyless.err, /key file .*master\.key does not exist, and .*radius-otp\.db holds token secrets sealed with the key it held \(\d+\)/);
  t.same(readdirSync(data), listing, 'no key file made');
  renameSync(join(dir, 'master.key.saved'), join(data, 'master.key'));
  const again = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', config]);
  t.equal(again.code, 0, again.err);
  t.match(again.out, /would import 2 tokens .*\(0 replaced, 2 users created\)/);
  const taken = await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--dry-run', '--config', config]);
  t.equal(taken.code, 1);
  t.match(taken.err, /HL-1/);
  t.same(readdirSync(data).sort(), [...listing, 'master.key'].sort(), 'no -wal/-shm');
  t.equal(hash(db), before, 'database unchanged');
});

t.test('a dry run meets the key file as the import would: one others may read, or another key, is refused', async (t) => {
  const w = workspace();
  const azure = join(FIX, 'csv/valid/azure.csv');
  const key = join(w.dir, 'master.key');
  // A key file made before the store: checked though there is no store to read yet.
  writeFileSync(key, `${'cd'.repeat(32)}\n`, { mode: 0o640 });
  chmodSync(key, 0o640);
  const early = await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--dry-run', '--config', w.config]);
  t.equal(early.code, 1);
  t.match(early.err, /master\.key/);
  t.notOk(existsSync(join(w.dir, 'radius-otp.db')), 'no store made');
  chmodSync(key, 0o600);
  const fresh = await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--dry-run', '--config', w.config]);
  t.equal(fresh.code, 0, fresh.err);
  t.equal((await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--config', w.config])).code, 0);
  chmodSync(key, 0o640);
  const shared = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', w.config]);
  t.equal(shared.code, 1);
  t.match(shared.err, /master\.key/);
  t.equal((await cli(['import', 'csv', azure, '--create-users', '--config', w.config])).code, 1, 'as the import itself');
  chmodSync(key, 0o600);
  const saved = readFileSync(key);
  writeFileSync(key, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  const other = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', w.config]);
  t.equal(other.code, 1);
  t.match(other.err, /token secrets in .*radius-otp\.db sealed with another master key: \d+; this key opens none of them .*: .*master\.key/);
  t.equal((await cli(['import', 'csv', azure, '--create-users', '--config', w.config])).code, 1, 'as the import itself');
  writeFileSync(key, saved);
  const ok = await cli(['import', 'csv', azure, '--dry-run', '--create-users', '--config', w.config]);
  t.equal(ok.code, 0, ok.err);
  for (const r of [early, shared, other, ok]) t.notMatch(r.err + r.out, /abab|cdcd/, 'never a key');
});

t.test('every invalid fixture exits 1, names its record, and leaves the database byte-for-byte unchanged', async (t) => {
  const w = workspace();
  t.equal((await cli(['import', 'pskc', fig(3), '--create-users', '--config', w.config])).code, 0);
  const before = hash(w.db);
  for (const kind of ['pskc', 'csv'] as const) {
    const table = JSON.parse(readFileSync(join(FIX, kind, 'invalid/expected.json'), 'utf8')) as {
      cases: Array<{ file: string; name?: string; keyHex?: string; password?: string; record: string; field: string }>;
    };
    for (const c of table.cases) {
      const path = join(FIX, kind, 'invalid', c.file);
      const args = ['import', kind, path, '--config', w.config];
      if (c.keyHex !== undefined) args.push('--key-hex', c.keyHex);
      if (c.password !== undefined) args.push('--password-stdin');
      const r = await cli(args, { stdin: c.password });
      const label = `${kind} ${c.name ?? c.file}`;
      t.equal(r.code, 1, label);
      const lines = r.err.trimEnd().split('\n');
      const recordPart = c.record === 'file' ? '' : `${c.record}: `;
      t.ok(lines.some((l) => l.startsWith(`${path}: ${recordPart}${c.field === '' ? '' : `${c.field}: `}`)), `${label}: names ${c.record} ${c.field}\n${r.err}`);
      t.match(lines.at(-1), new RegExp(`^radius-otp: .*${(c.file.split('/').pop() as string).replace(/[.]/g, '\\.')}: nothing imported \\((the file is refused|\\d+ invalid records?)\\)$`), label);
      t.equal(hash(w.db), before, `${label}: database unchanged`);
    }
  }
  t.ok(existsSync(w.db));
});

t.test('progress bar on a terminal, over 1000 tokens', async (t) => {
  const w = workspace();
  const csv = join(w.dir, 'many.csv');
  const rows = Array.from({ length: 1500 }, (_, i) => `BULK-${i},GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,30`);
  writeFileSync(csv, rows.join('\n'));
  const r = await cli(['import', 'csv', csv, '--config', w.config], { tty: true });
  t.equal(r.code, 0, r.err);
  t.match(r.progress, /importing/);
  t.match(r.out, /imported 1500 tokens/);
  t.equal((await tokens(w.config)).length, 1500);
  const again = await cli(['import', 'csv', csv, '--config', w.config]);
  t.equal(again.code, 1);
  t.equal(again.err.split('\n').filter((l) => l.includes('is already in the store (use --replace)')).length, 1500, 'every serial named');
  t.match(again.err, /many\.csv: line 1500: serial: serial BULK-1499 is already in the store \(use --replace\)\n.*nothing imported \(1500 invalid records\)\n$/);
  const dry = await cli(['import', 'csv', join(FIX, 'csv/valid/headerless.csv'), '--dry-run', '--json', '--config', w.config]);
  t.match(JSON.parse(dry.out), { tokens: [{ serial: 'HL-1', user: null, action: 'add' }] });
});

t.test('no secret, key or password in any output', async (t) => {
  const all = everything.join('\n');
  for (const f of FORBIDDEN) t.notOk(all.includes(f), `never printed: ${f.slice(0, 6)}…`);
});
