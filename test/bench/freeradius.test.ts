import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { codeFor, PERIOD, stepNow, tokenSecret } from '../../src/bench/common.js';
import { FREERADIUS, FREERADIUS_READY, freeradiusInstalled, writeFreeradiusConfig } from '../../src/bench/freeradius.js';
import { base32Encode } from '../../src/tokens/base32.js';
import { radclient } from '../helpers/radclient.js';
import { freePort } from '../helpers/slapd.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = 'fr-bench-secret';

t.test('the reference configuration: files are 0600, one worker or the default pool, a user per token', async (t) => {
  t.ok(freeradiusInstalled(), `${FREERADIUS} is installed (apt-get install freeradius)`);
  const one = tempDir('fr-one-');
  writeFreeradiusConfig(one, { port: 1812, secret: SECRET, users: 3, threads: 'one' });
  for (const f of ['radiusd.conf', 'users', 'dictionary']) t.equal(statSync(join(one, f)).mode & 0o777, 0o600, `${f} is 0600`);
  const conf = readFileSync(join(one, 'radiusd.conf'), 'utf8');
  t.match(conf, /start_servers = 1\n\s+max_servers = 1\n/);
  t.match(conf, `secret = "${SECRET}"`);
  t.match(conf, 'require_message_authenticator = yes');
  t.match(conf, 'reject_delay = 0');
  t.equal(
    readFileSync(join(one, 'users'), 'utf8'),
    [0, 1, 2].map((i) => `u${i} TOTP-Secret := "${base32Encode(tokenSecret(i))}"\n`).join(''),
  );
  const pool = tempDir('fr-pool-');
  writeFreeradiusConfig(pool, { port: 1812, secret: SECRET, users: 1, threads: 'default' });
  t.match(readFileSync(join(pool, 'radiusd.conf'), 'utf8'), /start_servers = 5\n\s+max_servers = 32\n/);
});

t.test('FreeRADIUS on it answers radclient: the current code is accepted, with a Message-Authenticator; others are not', async (t) => {
  const dir = tempDir('fr-run-');
  const port = await freePort();
  writeFreeradiusConfig(dir, { port, secret: SECRET, users: 3, threads: 'one' });
  const child = spawn(FREERADIUS, ['-f', '-d', dir, '-l', 'stdout'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('close', resolve));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(FREERADIUS_READY)) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then(() => reject(new Error(`freeradius exited: ${out}`)));
  });
  // rlm_totp takes the current step's code only: not in a step's last seconds.
  const left = PERIOD - ((Date.now() / 1000) % PERIOD);
  if (left < 3) await new Promise((r) => setTimeout(r, left * 1000 + 50));
  const step = stepNow();
  const target = { host: '127.0.0.1', port };
  const ask = (user: string, code: string) => radclient(target, SECRET, `User-Name = "${user}", User-Password = "${code}", Message-Authenticator = 0x00\n`);

  const ok = await ask('u1', codeFor(1, step));
  if (!t.equal(ok.reply, 'Access-Accept', 'the current code is accepted')) t.comment(out);
  t.ok(ok.attributes.some(([name]) => name === 'Message-Authenticator'), 'the reply carries a Message-Authenticator');
  t.equal((await ask('u1', codeFor(2, step))).reply, 'Access-Reject', "another user's code");
  t.equal((await ask('u1', codeFor(1, step + 1))).reply, 'Access-Reject', 'the next step: rlm_totp has no window');
  t.equal((await ask('u7', codeFor(7, step))).reply, 'Access-Reject', 'a user not in the users file');
});
