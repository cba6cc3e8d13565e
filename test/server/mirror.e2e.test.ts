/**
 * The server reads code-only requests from its token mirror (store/sqlite/token-mirror.ts). An
 * administrator's change made with the CLI while it serves — another connection to the store —
 * must count from the very next request, as it did when every request read the store.
 * radclient and oathtool, over loopback.
 */
import t from 'tap';
import { cli } from '../helpers/cli.js';
import { radclient } from '../helpers/radclient.js';
import { totpCode } from '../helpers/oathtool.js';
import { startTestServer } from '../helpers/server.js';
import { totpRecord } from '../helpers/store.js';

const KEY = Buffer.from('3132333435363738393031323334353637383930', 'hex');
const HEX = KEY.toString('hex');
const NOW = 2_000_000_000; // a fixed server clock: codes from oathtool -N @NOW are exact
const MA = 'Message-Authenticator = 0x00';

t.test('CLI changes while serving count from the next code-only request', async (t) => {
  let clock = NOW;
  const s = await startTestServer({
    now: () => clock,
    extra: '[otp]\nmax_failures = 2\n[metrics]\nlisten = "127.0.0.1:0"\n',
    listen: ['127.0.0.1:0'],
    clients: '[[client]]\nname = "gw"\naddress = "127.0.0.2"\nsecret = "codeonly"\nprimary = "none"\n',
  });
  t.teardown(() => s.stop());
  s.server.store.tokens.importMany([totpRecord('M-1', { user: 'alice', secret: KEY }), totpRecord('M-2', { user: 'bob', secret: KEY })], {
    replace: false,
    createUsers: true,
  });
  const admin = (...args: string[]) => cli([...args, '--config', s.configFile]);
  /** The code of the server's clock, one 30-s step later each time: every code is new. */
  const send = async (user: string, wrong = false) => {
    clock += 30;
    const code = wrong ? '000000' : totpCode(HEX, clock);
    const r = await radclient(s.v4, 'codeonly', `User-Name = "${user}", User-Password = "${code}", NAS-Identifier = "vpn", Packet-Src-IP-Address = 127.0.0.2, ${MA}`);
    return { reply: r.reply, reason: s.audit.at(-1)?.reason };
  };

  t.same(await send('alice'), { reply: 'Access-Accept', reason: undefined });
  t.equal(s.server.store.tokens.mirrorStats()?.users, 1, 'alice is held from her first request on');

  t.equal((await admin('user', 'disable', 'alice')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Reject', reason: 'disabled-user' });
  t.equal((await admin('user', 'enable', 'alice')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Accept', reason: undefined });

  t.equal((await admin('token', 'disable', 'M-1')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Reject', reason: 'disabled-token' });
  t.equal((await admin('token', 'enable', 'M-1')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Accept', reason: undefined });

  // Locked by two wrong codes; the right one is refused until `token unlock`.
  t.same(await send('alice', true), { reply: 'Access-Reject', reason: 'wrong-code' });
  t.same(await send('alice', true), { reply: 'Access-Reject', reason: 'wrong-code' });
  t.same(await send('alice'), { reply: 'Access-Reject', reason: 'locked' });
  t.equal((await admin('token', 'unlock', 'M-1')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Accept', reason: undefined });

  t.equal((await admin('token', 'unassign', 'M-2')).code, 0);
  t.same(await send('bob'), { reply: 'Access-Reject', reason: 'no-token' });
  t.equal((await admin('token', 'assign', 'M-2', 'bob')).code, 0);
  t.same(await send('bob'), { reply: 'Access-Accept', reason: undefined });

  t.equal((await admin('token', 'delete', 'M-1')).code, 0);
  t.same(await send('alice'), { reply: 'Access-Reject', reason: 'no-token' });

  t.same(await send('bob'), { reply: 'Access-Accept', reason: undefined });

  // The import at the start and each of the 8 commands dropped the copy once; since the last
  // drop only bob, who has a token, is held again.
  const metrics = await (await fetch(`http://127.0.0.1:${s.server.metricsPort}/metrics`)).text();
  t.match(metrics, /radius_token_mirror_drops_total 9\n/);
  t.match(metrics, /radius_token_mirror_users 1\n/);
  t.match(metrics, /radius_token_mirror_tokens 1\n/);
});
