/**
 * Issue 3 "Done when": radclient and oathtool over loopback — password+code, replay, challenge
 * with State, expired and reused State, app passwords, code-only clients.
 */
import t from 'tap';
import { hashAppPassword } from '../../src/auth/app-passwords.js';
import { totpRecord } from '../helpers/store.js';
import { radclient } from '../helpers/radclient.js';
import { hotpCode, totpCode } from '../helpers/oathtool.js';
import { SECRET, startTestServer } from '../helpers/server.js';

const MA = 'Message-Authenticator = 0x00';
const KEY = Buffer.from('3132333435363738393031323334353637383930', 'hex');
/** radclient's pseudo-attribute: send from 127.0.0.2, a client of its own. */
const FROM_NAS2 = ', Packet-Src-IP-Address = 127.0.0.2';
const NOW = 2_000_000_000; // a fixed server clock: codes from oathtool -N @NOW are exact

const req = (user: string, password: string, extra = '') =>
  `User-Name = "${user}", User-Password = "${password}", NAS-Identifier = "vpn", Calling-Station-Id = "198.51.100.7", ${MA}${extra}`;

t.test('second factor against radclient and oathtool', async (t) => {
  let clock = NOW;
  const s = await startTestServer({
    now: () => clock,
    extra: '[auth]\nchallenge_timeout = 60\n',
    clients: '[[client]]\nname = "nas-code-only"\naddress = "127.0.0.2"\nsecret = "codeonly"\nprimary = "none"\n',
  });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'pw');
  s.server.store.tokens.importMany([totpRecord('TOTP-1', { user: 'alice', secret: KEY })], { replace: false, createUsers: false });
  const hex = KEY.toString('hex');

  t.test('password+code → Accept; the same code again → Reject (replay)', async (t) => {
    const code = totpCode(hex, NOW);
    const ok = await radclient(s.v4, SECRET, req('alice', `pw${code}`));
    t.equal(ok.reply, 'Access-Accept', ok.stdout);
    const again = await radclient(s.v4, SECRET, req('alice', `pw${code}`));
    t.equal(again.reply, 'Access-Reject');
    const last = s.audit.at(-1);
    t.match(last, { event: 'decision', result: 'reject', reason: 'replayed-code', mode: 'password+otp', token_serial: 'TOTP-1', calling_station_id: '198.51.100.7', nas_identifier: 'vpn' });
  });

  t.test('password alone → Challenge with State; State + next code → Accept; reused State → Reject', async (t) => {
    const ch = await radclient(s.v4, SECRET, req('alice', 'pw'));
    t.equal(ch.reply, 'Access-Challenge');
    t.equal(ch.attributes[0]?.[0], 'Message-Authenticator');
    const state = ch.attributes.find(([n]) => n === 'State')?.[1];
    t.match(state, /^0x[0-9a-f]{32}$/);
    t.match(ch.stdout, /Reply-Message = "Enter your one-time code"/);
    const next = totpCode(hex, NOW + 30); // T+1: inside the window, after the step used above
    const ok = await radclient(s.v4, SECRET, req('alice', next, `, State = ${state}`));
    t.equal(ok.reply, 'Access-Accept', ok.stdout);
    t.match(s.audit.at(-1), { result: 'accept', mode: 'challenge', token_serial: 'TOTP-1' });
    const reused = await radclient(s.v4, SECRET, req('alice', next, `, State = ${state}`));
    t.equal(reused.reply, 'Access-Reject');
    t.match(s.audit.at(-1), { result: 'reject', reason: 'unknown-state' });
  });

  t.test('an expired State → Reject', async (t) => {
    clock = NOW + 300;
    const ch = await radclient(s.v4, SECRET, req('alice', 'pw'));
    const state = ch.attributes.find(([n]) => n === 'State')?.[1];
    clock += 61;
    const r = await radclient(s.v4, SECRET, req('alice', totpCode(hex, clock), `, State = ${state}`));
    t.equal(r.reply, 'Access-Reject');
    t.match(s.audit.at(-1), { result: 'reject', reason: 'expired-state' });
  });

  t.test('an app password → Accept, mode app-password', async (t) => {
    s.server.store.appPasswords.create('alice', 'mail', hashAppPassword('abcd-efgh-ijkl-mnop'));
    const r = await radclient(s.v4, SECRET, req('alice', 'abcd-efgh-ijkl-mnop'));
    t.equal(r.reply, 'Access-Accept');
    t.match(s.audit.at(-1), { result: 'accept', mode: 'app-password' });
  });

  t.test('primary = "none": the code alone → Accept (mode otp)', async (t) => {
    clock = NOW + 900;
    const code = totpCode(hex, clock);
    const r = await radclient(s.v4, 'codeonly', req('alice', code, FROM_NAS2));
    t.equal(r.reply, 'Access-Accept', r.stdout);
    t.match(s.audit.at(-1), { result: 'accept', mode: 'otp', client: 'nas-code-only' });
    const wrong = await radclient(s.v4, 'codeonly', req('alice', '000000', FROM_NAS2));
    t.equal(wrong.reply, 'Access-Reject');
  });

  t.test('HOTP event token: counter codes accepted once each', async (t) => {
    await s.addUser('bob', 'bobpw');
    s.server.store.tokens.importMany([totpRecord('HOTP-1', { type: 'hotp', user: 'bob', secret: KEY })], { replace: false, createUsers: false });
    const c3 = hotpCode(hex, 3);
    const r = await radclient(s.v4, SECRET, req('bob', `bobpw${c3}`));
    t.equal(r.reply, 'Access-Accept');
    t.equal(s.server.store.tokens.get('HOTP-1')?.counter, 4);
    const again = await radclient(s.v4, SECRET, req('bob', `bobpw${c3}`));
    t.equal(again.reply, 'Access-Reject');
  });

  t.test('replies never say which part was wrong', async (t) => {
    const code = totpCode(hex, clock + 30);
    const wrongPw = await radclient(s.v4, SECRET, req('alice', `nope${code}`));
    const unknown = await radclient(s.v4, SECRET, req('mallory', `pw${code}`));
    t.equal(wrongPw.reply, 'Access-Reject');
    t.equal(unknown.reply, 'Access-Reject');
    t.same(
      wrongPw.attributes.map(([n]) => n),
      unknown.attributes.map(([n]) => n),
    );
    t.notMatch(wrongPw.stdout + unknown.stdout, /Reply-Message/);
  });
});
