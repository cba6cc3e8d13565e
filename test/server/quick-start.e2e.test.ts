/**
 * README "Quick start": the commands of its second block, as written there, against a test server
 * (its own port and store instead of radius.conf.example's 1812 and data/), with radclient and a
 * code from oathtool for the secret `enroll` printed. The README's placeholders are filled in:
 * `0x…` with the State of the challenge, "123456" with the code.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { base32Decode } from '../../src/tokens/base32.js';
import { cli } from '../helpers/cli.js';
import { totpCode } from '../helpers/oathtool.js';
import { radclient } from '../helpers/radclient.js';
import { startTestServer } from '../helpers/server.js';

const NOW = 2_000_000_000; // a fixed server clock: codes from oathtool -N @NOW are exact
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The commands of the block after "In a second terminal:", continuation lines joined, comments cut. */
function quickStartCommands(): string[] {
  const block = /In a second terminal:\n\n```sh\n([\s\S]*?)```/.exec(README)?.[1];
  if (block === undefined) throw new Error('README: no quick-start block after "In a second terminal:"');
  return block
    .replace(/\s*\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+# .*$/, '').trim())
    .filter((l) => l !== '');
}

t.test("README's quick start works as written: user add, enroll, challenge, State + code", async (t) => {
  const s = await startTestServer({ now: () => NOW });
  t.teardown(() => s.stop());
  const commands = quickStartCommands();
  t.equal(commands.length, 4, commands.join('\n'));

  let secretHex = '';
  let state = '';
  const replies: string[] = [];
  for (const command of commands) {
    const cliRun = /^(?:echo '([^']*)' \| )?node bin\/radius-otp --config radius\.conf\.example (.+)$/.exec(command);
    const rad = /^echo '([^']*)' \| radclient -x 127\.0\.0\.1 auth (\S+)$/.exec(command);
    if (cliRun !== null) {
      const stdin = cliRun[1] === undefined ? '' : `${cliRun[1]}\n`;
      const r = await cli(['--config', s.configFile, ...(cliRun[2] as string).split(' ')], stdin);
      t.equal(r.code, 0, `${command}: ${r.stderr}`);
      const secret = /otpauth:\/\/totp\/[^?]+\?secret=([A-Z2-7]+)/.exec(r.stdout)?.[1];
      if (secret !== undefined) secretHex = (base32Decode(secret) as { bytes: Buffer }).bytes.toString('hex');
    } else if (rad !== null) {
      const attributes = (rad[1] as string).replace('0x…', state).replace('"123456"', `"${totpCode(secretHex, NOW)}"`);
      const r = await radclient(s.v4, rad[2] as string, attributes);
      replies.push(r.reply ?? 'no reply');
      state = r.attributes.find(([n]) => n === 'State')?.[1] ?? state;
    } else {
      t.fail(`a command this test does not know how to run: ${command}`);
    }
  }
  t.not(secretHex, '', 'enroll printed an otpauth:// URI');
  t.same(replies, ['Access-Challenge', 'Access-Accept']);
  t.match(state, /^0x[0-9a-f]{32}$/);

  // "Or in one request, the password followed by the code": the next step's code.
  const oneRequest = /`User-Password = "([^"]+)123456"`/.exec(README)?.[1];
  t.equal(oneRequest, 'correct horse');
  const first = (commands[2] as string).replace(/^echo '([^']*)'.*$/, '$1');
  const r = await radclient(s.v4, 'testing123', first.replace('"correct horse"', `"correct horse${totpCode(secretHex, NOW + 30)}"`));
  t.equal(r.reply, 'Access-Accept', r.stdout);
});
