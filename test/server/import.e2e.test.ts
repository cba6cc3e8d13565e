/**
 * Issue 4 "Done when": a PSKC file made by python-pskc (Debian) is imported through the CLI, a
 * token is assigned, and radclient gets Access-Accept with the code oathtool computes for it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base32Encode } from '../../src/tokens/base32.js';
import { cli } from '../helpers/cli.js';
import { totpCode, hotpCode } from '../helpers/oathtool.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer } from '../helpers/server.js';

const MAKE_PSKC = fileURLToPath(new URL('../tools/make_pskc.py', import.meta.url));
const NOW = 2_100_000_000;

t.test('PSKC from python-pskc → import → assign → radclient Access-Accept', async (t) => {
  const s = await startTestServer({ now: () => NOW });
  t.teardown(() => s.stop());
  const sha256 = randomBytes(32);
  const hotp = randomBytes(20);
  const file = join(s.dir, 'vendor.pskc');
  const key = randomBytes(16).toString('hex');
  execFileSync('/usr/bin/python3', [
    MAKE_PSKC,
    '--mode',
    'preshared',
    '--key-hex',
    key,
    '--row',
    `VEND-0001,${base32Encode(sha256)},SHA256,8,60`,
    '--row',
    `VEND-0002,${base32Encode(hotp)},HOTP-SHA1,6,,7`,
    '-o',
    file,
  ]);
  // The running server and the CLI share the store (SQLite WAL), as in production.
  const config = ['--config', s.configFile];
  const dry = await cli(['import', 'pskc', file, '--key-hex', key, '--dry-run', ...config]);
  t.equal(dry.code, 0, dry.stderr);
  t.equal(s.server.store.tokens.list().length, 0, 'a dry run writes nothing');
  const imported = await cli(['import', 'pskc', file, '--key-hex', key, ...config]);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /imported 2 tokens/);
  t.notMatch(imported.stdout + imported.stderr, new RegExp(`${sha256.toString('hex')}|${key}`, 'i'), 'no secret or key printed');
  t.equal((await cli(['user', 'add', 'dave', '--password-stdin', ...config], 'pw\n')).code, 0);
  t.equal((await cli(['token', 'assign', 'VEND-0001', 'dave', ...config])).code, 0);
  t.equal((await cli(['token', 'assign', 'VEND-0002', 'dave', ...config])).code, 0);

  const totp = totpCode(sha256.toString('hex'), NOW, { algorithm: 'sha256', digits: 8, period: 60 });
  const ok = await radclient(s.v4, SECRET, `User-Name = "dave", User-Password = "pw${totp}", NAS-Identifier = "gw", Message-Authenticator = 0x00`);
  t.equal(ok.reply, 'Access-Accept', ok.stdout);
  t.match(s.audit.at(-1), { result: 'accept', token_serial: 'VEND-0001' });

  const event = hotpCode(hotp.toString('hex'), 8);
  const h = await radclient(s.v4, SECRET, `User-Name = "dave", User-Password = "pw${event}", NAS-Identifier = "gw", Message-Authenticator = 0x00`);
  t.equal(h.reply, 'Access-Accept', 'HOTP counter from the file (7) is honoured: 8 is within the look-ahead');
  t.match(s.audit.at(-1), { result: 'accept', token_serial: 'VEND-0002' });

  const wrongKey = await cli(['import', 'pskc', file, '--key-hex', randomBytes(16).toString('hex'), '--replace', ...config]);
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /vendor\.pskc/);
});
