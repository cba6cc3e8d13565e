/**
 * Interop with python-pskc 1.2 (Debian's python3-pskc) through test/tools/make_pskc.py (a copy of
 * the team's ../shared/tools/make_pskc.py, kept here so a clone tests anywhere), run
 * at test time in each mode: what it writes (and has re-read itself) our reader must import with
 * the same fields and seeds. The RFC 6238 App. B seeds (RELIABILITY V2) are the rows.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { base32Encode } from '../../../src/tokens/base32.js';
import { parsePskc } from '../../../src/tokens/import/pskc.js';
import { tempDir } from '../../helpers/tmp.js';

const TOOL = new URL('../../tools/make_pskc.py', import.meta.url).pathname;
const SEEDS = {
  SHA1: Buffer.from('12345678901234567890'),
  SHA256: Buffer.from('12345678901234567890123456789012'),
  SHA512: Buffer.from('1234567890'.repeat(6) + '1234'),
};
const ROWS = [
  `IOP-1,${base32Encode(SEEDS.SHA1)},TOTP,8,30`,
  `IOP-2,${base32Encode(SEEDS.SHA256)},TOTP-SHA256,8,30`,
  `IOP-3,${base32Encode(SEEDS.SHA512)},SHA512,6,60`,
  `IOP-4,${base32Encode(SEEDS.SHA1)},HOTP,6,,42`,
];
const KEY_HEX = '8f0e1d2c3b4a59687766554433221100';
const PASSWORD = 'interop password';

const dir = tempDir('radius-otp-interop-');
function make(mode: string, extra: string[], env: Record<string, string> = {}): Buffer {
  const out = join(dir, `${mode}-${extra.join('').replace(/\W/g, '')}.pskcxml`);
  execFileSync('/usr/bin/python3', [TOOL, '--mode', mode, ...ROWS.flatMap((r) => ['--row', r]), ...extra, '-o', out], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return readFileSync(out);
}

const CASES = [
  { mode: 'plain', extra: ['--suite-style', 'plain'], protection: {} },
  { mode: 'plain', extra: ['--suite-style', 'none'], protection: {}, sha1Only: true },
  { mode: 'preshared', extra: ['--key-hex', KEY_HEX], protection: { key: Buffer.from(KEY_HEX, 'hex') } },
  { mode: 'preshared', extra: ['--key-hex', KEY_HEX, '--encrypt-all'], protection: { key: Buffer.from(KEY_HEX, 'hex') } },
  { mode: 'pbkdf2', extra: ['--password-env', 'IOP_PW', '--iterations', '1000'], protection: { password: PASSWORD }, env: { IOP_PW: PASSWORD } },
];

for (const c of CASES) {
  t.test(`make_pskc.py --mode ${c.mode} ${c.extra.join(' ')}`, async (t) => {
    const content = make(c.mode, c.extra, c.env);
    const r = parsePskc(content, `${c.mode}.pskcxml`, c.protection);
    t.same(r.issues, []);
    const expected = [
      ['IOP-1', 'totp', 'SHA1', 8, 30, 0, SEEDS.SHA1],
      ['IOP-2', 'totp', c.sha1Only === true ? 'SHA1' : 'SHA256', 8, 30, 0, SEEDS.SHA256],
      ['IOP-3', 'totp', c.sha1Only === true ? 'SHA1' : 'SHA512', 6, 60, 0, SEEDS.SHA512],
      ['IOP-4', 'hotp', 'SHA1', 6, 30, 42, SEEDS.SHA1],
    ];
    t.same(
      r.records.map((x) => [x.serial, x.type, x.algorithm, x.digits, x.period, x.counter, x.secret]),
      expected,
    );
    if (c.mode !== 'plain') {
      const wrong = parsePskc(content, 'w.pskcxml', c.mode === 'pbkdf2' ? { password: 'not it' } : { key: Buffer.alloc(16, 0x42) });
      t.same(wrong.records, [], 'a wrong key or password imports nothing');
      t.match(wrong.issues, [{ record: 'file', field: 'EncryptionKey', reason: /^wrong (key|password)/ }]);
    }
  });
}
