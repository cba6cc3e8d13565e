/**
 * SPEC "Audit record (one JSON line per decision)", under kill -9: the built server writes a
 * decision's line before its reply leaves, so a NAS that got an Access-Accept can never find it
 * missing from the audit file, even when the server is killed at once. A burst of requests
 * shares group commits; the line of each is in the file when its reply arrives.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from '../../src/radius/codes.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { base32Encode } from '../../src/tokens/base32.js';
import { totpCode } from '../helpers/oathtool.js';
import { run, serve } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = 'nas-durable-secret';
const USERS = 24;

t.test('each Accept is in the audit file when it reaches the NAS, and stays there after kill -9', async (t) => {
  const dir = tempDir('radius-otp-durable-');
  const config = join(dir, 'radius.conf');
  writeFileSync(
    config,
    `[server]\nlisten = ["127.0.0.1:0"]\n[log]\naudit = "logs/audit.log"\n` +
      `[[client]]\nname = "nas"\naddress = "127.0.0.1"\nsecret = "${SECRET}"\nprimary = "none"\n`,
  );
  const keys = Array.from({ length: USERS }, () => randomBytes(20));
  writeFileSync(join(dir, 'tokens.csv'), `upn,serial number,secret key,time interval\n${keys.map((k, i) => `u${i},D-${i},${base32Encode(k)},30`).join('\n')}\n`);
  const imported = await run(['import', 'csv', join(dir, 'tokens.csv'), '--create-users', '--config', config]);
  t.equal(imported.code, 0, imported.stderr);

  const s = await serve(config);
  t.teardown(() => s.child.kill('SIGKILL'));
  const now = Math.floor(Date.now() / 1000);
  const requests = keys.map((k, i) =>
    encodeAccessRequest({ identifier: i, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: `u${i}`, password: totpCode(k.toString('hex'), now), nasIdentifier: 'nas' }),
  );
  const audit = join(dir, 'logs', 'audit.log');
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());

  // The whole burst at once; as each reply arrives, the file is read before anything else runs.
  const seen = new Map<number, { code: number; logged: boolean }>();
  const all = new Promise<void>((resolve) => {
    socket.on('message', (reply) => {
      const user = `u${reply[1]}`;
      const logged = readFileSync(audit, 'utf8').split('\n').some((l) => l.includes(`"user":"${user}"`));
      seen.set(reply[1] as number, { code: reply[0] as number, logged });
      if (seen.size === USERS) resolve();
    });
  });
  for (const r of requests) socket.send(r, s.port, '127.0.0.1');
  await all;
  s.child.kill('SIGKILL');

  t.same([...seen.values()].filter((r) => r.code !== Code.AccessAccept), [], 'every request accepted');
  t.same([...seen.entries()].filter(([, r]) => !r.logged).map(([id]) => `u${id}`), [], 'each line was in the file when its reply arrived');
  await new Promise((resolve) => s.child.once('exit', resolve));
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; result: string });
  t.equal(lines.filter((l) => l.event === 'decision' && l.result === 'accept').length, USERS, 'all there after kill -9');
});
