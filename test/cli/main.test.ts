/** The real process's edge (main.ts): output into a pipe whose reader has gone. */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base32Encode } from '../../src/tokens/base32.js';
import { BIN } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

t.test('`token list | head -1`: the first line, then a quiet exit 0, no EPIPE stack trace', async (t) => {
  const dir = tempDir('radius-otp-pipe-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, '[store]\npath = "radius-otp.db"\nkey_file = "master.key"\n');
  // More than a pipe's 64 KB of output, so the writer is still writing when head has gone.
  writeFileSync(join(dir, 'many.csv'), Array.from({ length: 3000 }, (_, i) => `PIPE-${i},${base32Encode(randomBytes(20))},30`).join('\n'));
  execFileSync(process.execPath, [BIN, 'import', 'csv', join(dir, 'many.csv'), '--config', config]);
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" token list --config "${config}" | head -1; echo "exit \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  t.match(r.stdout, /^serial\s+type/);
  t.equal(r.stderr, 'exit 0\n');
});
