/**
 * `radius-otp key rotate` (RELIABILITY S3) as an administrator runs it: the server (its own
 * process) keeps accepting oathtool codes from radclient while the CLI seals every secret again
 * under a new key beside it, and after a restart on the new key alone.
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { radclient } from '../helpers/radclient.js';
import { totpCode } from '../helpers/oathtool.js';
import { run, serve } from '../helpers/process.js';
import { SECRET, testConfig } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET_HEX = '3132333435363738393031323334353637383930';
const BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const MA = 'Message-Authenticator = 0x00';

t.test('key rotate while the server runs; codes keep working, and after a restart', async (t) => {
  const dir = tempDir('radius-otp-rotate-e2e-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, testConfig(dir, '', ['127.0.0.1:0']));
  t.equal((await run(['user', 'add', 'alice', '--password-stdin', '--config', config], 'pw\n')).code, 0);
  const csv = join(dir, 'tokens.csv');
  writeFileSync(csv, `ROT-1,${BASE32},30\n`);
  t.equal((await run(['import', 'csv', csv, '--config', config])).code, 0);
  t.equal((await run(['token', 'assign', 'ROT-1', 'alice', '--config', config])).code, 0);

  let served = await serve(config);
  t.teardown(() => served.child.kill('SIGKILL'));
  const step = Math.floor(Date.now() / 1000 / 30);
  const ask = (offset: number) =>
    radclient({ host: '127.0.0.1', port: served.port }, SECRET, `User-Name = "alice", User-Password = "pw${totpCode(SECRET_HEX, (step + offset) * 30)}", NAS-Identifier = "gw", ${MA}`);
  t.equal((await ask(0)).reply, 'Access-Accept', 'before');

  const keyBefore = readFileSync(join(dir, 'master.key'), 'utf8');
  const rotated = await run(['key', 'rotate', '--config', config]);
  t.equal(rotated.code, 0, rotated.stderr);
  t.match(rotated.stdout, /^1 token secret\(s\) sealed again under a new master key in .*master\.key \(key id [0-9a-f]{8}\)\nthe previous key \(id [0-9a-f]{8}\) is in .*master\.key\.[0-9a-f]{8}: backups/);
  const keyAfter = readFileSync(join(dir, 'master.key'), 'utf8');
  t.not(keyAfter, keyBefore);
  for (const k of [keyBefore, keyAfter]) t.notOk(rotated.stdout.includes(k.trim()) || rotated.stderr.includes(k.trim()), 'no key printed');
  t.same(readdirSync(dir).filter((f) => f.startsWith('master.key')).length, 2, 'the key file and the previous key’s copy');

  // The CLI's commit makes the server read the store again: its secrets are now sealed with the new key.
  t.equal((await ask(1)).reply, 'Access-Accept', 'after, same server');
  t.equal((await ask(2)).reply, 'Access-Accept', 'and again, read from the store');
  t.notMatch(served.stdout() + served.stderr(), /failed authentication/, 'no secret refused');

  served.child.kill('SIGTERM');
  await served.exited;
  served = await serve(config);
  t.equal((await ask(3)).reply, 'Access-Accept', 'after a restart on the new key');
});

t.test('key rotate without a store', async (t) => {
  const dir = tempDir('radius-otp-rotate-cli-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, testConfig(dir, '', ['127.0.0.1:0']));
  const none = await run(['key', 'rotate', '--config', config]);
  t.equal(none.code, 1);
  t.match(none.stderr, /^radius-otp: no store at .*radius-otp\.db: nothing to rotate\n$/);
  t.same(readdirSync(dir), ['radius.conf'], 'nothing created');
});
