import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath, loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { configSchema, parseListen } from '../../src/config/schema.js';
import { formatKey, locateKey } from '../../src/config/locate.js';
import { tempDir } from '../helpers/tmp.js';

const minimal = `
[[client]]
name = "gw"
address = "10.0.0.0/8"
secret = "s3cret"
`;

function fails(t: Tap.Test, source: string, expect: { code: string; key: string; line: number; reason?: RegExp }): void {
  try {
    parseConfig(source, '/etc/radius.conf');
    t.fail('should have refused');
  } catch (err) {
    t.type(err, ConfigError);
    const e = err as ConfigError;
    t.equal(e.code, expect.code, 'code');
    t.equal(e.key, expect.key, 'key');
    t.equal(e.line, expect.line, 'line');
    if (expect.reason) t.match(e.reason, expect.reason);
    t.match(e.message, `/etc/radius.conf:${expect.line}`);
  }
}

t.test('an empty file gives every default', async (t) => {
  const c = parseConfig('', '/x/radius.conf');
  t.equal(c.server.name, 'radius-otp-1');
  t.same(c.server.listen, ['127.0.0.1:1812']);
  t.equal(c.auth.primary, 'local');
  t.equal(c.auth.users_without_token, 'reject');
  t.equal(c.auth.challenge_timeout, 300);
  t.equal(c.otp.window, 1);
  t.equal(c.otp.max_failures, 10);
  t.equal(c.store.path, '/x/data/radius-otp.db', 'relative paths resolve against the config directory');
  t.equal(c.store.synchronous, 'normal', 'commits survive kill -9; the WAL is synced by the checkpoints');
  t.equal(c.log.audit, '/x/data/audit.log');
  t.equal(c.ldap.ca_file, '', 'an empty path stays empty');
  t.ok(Object.isFrozen(c.server), 'frozen');
});

t.test('require_message_authenticator: yes, no or auto per client, with a [server] default of yes (RELIABILITY B1)', async (t) => {
  const c = parseConfig(minimal, '/x/r.conf');
  t.equal(c.server.require_message_authenticator, 'yes', 'the default');
  t.equal(c.client[0]?.require_message_authenticator, undefined, 'a client without the key takes [server]');
  const each = (v: string) => parseConfig(`${minimal}require_message_authenticator = ${v}\n`, '/x/r.conf').client[0]?.require_message_authenticator;
  t.equal(each('true'), 'yes');
  t.equal(each('false'), 'no');
  t.equal(each('"yes"'), 'yes');
  t.equal(each('"no"'), 'no');
  t.equal(each('"auto"'), 'auto');
  t.equal(parseConfig(`[server]\nrequire_message_authenticator = "auto"\n${minimal}`, '/x/r.conf').server.require_message_authenticator, 'auto');
  fails(t, `${minimal}require_message_authenticator = "maybe"\n`, { code: 'invalid', key: 'client[0].require_message_authenticator', line: 6, reason: /true, false, "yes", "no" or "auto"/ });
  fails(t, '[server]\nrequire_message_authenticator = 1\n', { code: 'invalid', key: 'server.require_message_authenticator', line: 2 });
  const two = parseConfig(`${minimal}[[client]]\nname = "one"\naddress = "10.1.1.1"\nsecret = "x"\n`, '/x/r.conf');
  t.equal(two.client[1]?.address, '10.1.1.1', 'a bare IPv4 address is a client too');
});

t.test('the shipped example parses and documents every key of the schema', async (t) => {
  const file = new URL('../../radius.conf.example', import.meta.url).pathname;
  const source = readFileSync(file, 'utf8');
  const c = loadConfig(file);
  t.ok(c.client.length >= 1, 'has a client so it works as shipped');
  // Every key of every section appears in the example, uncommented or commented.
  const shape = configSchema.shape;
  for (const [section, schema] of Object.entries(shape)) {
    const inner = (schema as unknown as { def: { innerType?: { shape?: object }; in?: unknown } }).def;
    let obj: unknown = schema;
    // unwrap prefault/default/array wrappers to reach an object shape
    for (let i = 0; i < 4 && obj && !(obj as { shape?: object }).shape; i++) {
      const d = (obj as { def: Record<string, unknown> }).def;
      obj = d.innerType ?? d.element ?? d.in ?? undefined;
    }
    void inner;
    const keys = obj && (obj as { shape?: object }).shape ? Object.keys((obj as { shape: object }).shape) : [];
    if (keys.length === 0) {
      t.match(source, new RegExp(`^#?\\s*${section}\\s*=`, 'm'), `top-level key ${section}`);
      continue;
    }
    t.match(source, new RegExp(`^#?\\s*\\[\\[?${section}\\]\\]?`, 'm'), `section [${section}]`);
    for (const key of keys) t.match(source, new RegExp(`^#?\\s*${key}\\s*=`, 'm'), `${section}.${key} documented`);
  }
  // And the example's values are the schema defaults where the example shows a default.
  const defaults = parseConfig('', file);
  t.same(c.otp, defaults.otp);
  t.same(c.auth, defaults.auth);
  t.same(c.log, defaults.log);
  t.same(c.store, defaults.store);
  t.same(c.ldap, defaults.ldap);
  t.same(c.metrics, defaults.metrics);
  t.equal(c.server.max_pending, defaults.server.max_pending);
});

t.test('unknown keys are refused with key and line', async (t) => {
  fails(t, '[otp]\nwindow = 1\nwindw = 2\n', { code: 'unknown-key', key: 'otp.windw', line: 3 });
  fails(t, 'colour = "red"\n', { code: 'unknown-key', key: 'colour', line: 1 });
  fails(t, `${minimal}\n[[client]]\nname = "b"\naddress = "10.1.0.0/16"\nsecret = "x"\nsecrett = "y"\n`, {
    code: 'unknown-key',
    key: 'client[1].secrett',
    line: 11,
  });
});

t.test('wrong types and out-of-range values are refused with key and line', async (t) => {
  fails(t, '[otp]\nwindow = "one"\n', { code: 'invalid', key: 'otp.window', line: 2 });
  fails(t, '[otp]\n\nmax_failures = 0\n', { code: 'invalid', key: 'otp.max_failures', line: 3 });
  fails(t, '[auth]\nusers_without_token = "maybe"\n', { code: 'invalid', key: 'auth.users_without_token', line: 2 });
  fails(t, '[store]\nsynchronous = "off"\n', { code: 'invalid', key: 'store.synchronous', line: 2 });
  fails(t, '[server]\nlisten = ["localhost:1812"]\n', { code: 'invalid', key: 'server.listen[0]', line: 2, reason: /IPv4/ });
  fails(t, '[[client]]\nname = "a"\naddress = "10.0.0.0/33"\nsecret = "x"\n', { code: 'invalid', key: 'client[0].address', line: 3 });
  for (const address of ['10.0.0.0/8/1', 'gateway', '10.0.0.0/x', '::1/129']) {
    fails(t, `[[client]]\nname = "a"\naddress = "${address}"\nsecret = "x"\n`, { code: 'invalid', key: 'client[0].address', line: 3 });
  }
  fails(t, '[[client]]\nname = "a"\naddress = "10.0.0.0/8"\n', { code: 'invalid', key: 'client[0].secret', line: 1 });
  fails(t, '[[reply]]\nattributes = { Class = "x" }\n', { code: 'invalid', key: 'reply[0]', line: 1, reason: /exactly one/ });
  // RELIABILITY R6: duplicate entries are kept 5 to 30 s.
  fails(t, '[server]\nduplicate_cache_seconds = 31\n', { code: 'invalid', key: 'server.duplicate_cache_seconds', line: 2 });
  fails(t, '[server]\nduplicate_cache_seconds = 4\n', { code: 'invalid', key: 'server.duplicate_cache_seconds', line: 2 });
});

t.test('an empty client secret is refused with key and line', async (t) => {
  fails(t, '[[client]]\nname = "a"\naddress = "10.0.0.0/8"\nsecret = ""\n', { code: 'invalid', key: 'client[0].secret', line: 4 });
});

t.test('a wildcard listen address is refused: replies must leave from the address each request came to', async (t) => {
  for (const [listen, line] of [['0.0.0.0:1812', 2], ['[::]:1812', 2], ['[0:0:0:0:0:0:0:0]:1812', 2]] as const) {
    fails(t, `[server]\nlisten = ["${listen}"]\n`, { code: 'invalid', key: 'server.listen[0]', line, reason: /wildcard address .* list each address of this host/ });
  }
  t.equal(parseConfig('[server]\nlisten = ["10.0.0.1:1812"]\n', 'x.conf').server.listen[0], '10.0.0.1:1812');
});

t.test('a listen address given twice, however written, is refused with key and line', async (t) => {
  fails(t, '[server]\nlisten = ["127.0.0.1:1812", "127.0.0.1:1812"]\n', {
    code: 'invalid',
    key: 'server.listen[1]',
    line: 2,
    reason: 'duplicate listen address: the same as server.listen[0] (127.0.0.1:1812)',
  });
  fails(t, '[server]\nlisten = [\n  "[::1]:1812",\n  "127.0.0.1:1812",\n  "[0:0:0:0:0:0:0:1]:1812",\n]\n', {
    code: 'invalid',
    key: 'server.listen[2]',
    line: 5,
    reason: /server\.listen\[0\] \(\[::1\]:1812\)/,
  });
  t.equal(parseConfig('[server]\nlisten = ["127.0.0.1:1812", "127.0.0.1:1813", "[::1]:1812"]\n', 'x.conf').server.listen.length, 3, 'other ports, other addresses');
  t.equal(parseConfig('[server]\nlisten = ["127.0.0.1:0", "127.0.0.1:0"]\n', 'x.conf').server.listen.length, 2, 'port 0: a port of its own each');
});

t.test('duplicate clients are refused', async (t) => {
  fails(t, `${minimal}${minimal}`, { code: 'invalid', key: 'client[1].name', line: 8, reason: /duplicate/ });
  fails(t, `${minimal}${minimal.replace('"gw"', '"gw2"')}`, { code: 'invalid', key: 'client[1].address', line: 9 });
  fails(t, '[[client]]\nname="a"\naddress="::1"\nsecret="x"\n[[client]]\nname="b"\naddress="::1/128"\nsecret="y"\n', {
    code: 'invalid',
    key: 'client[1].address',
    line: 7,
  });
  // One network, written two ways: the second would never be found (the first shadows it).
  const two = (a: string, b: string) => `[[client]]\nname="a"\naddress="${a}"\nsecret="x"\n[[client]]\nname="b"\naddress="${b}"\nsecret="y"\n`;
  for (const [a, b] of [
    ['127.0.0.0/8', '127.0.0.1/8'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['127.0.0.1', '::ffff:127.0.0.1'],
    ['10.0.0.0/8', '::ffff:10.0.0.0/104'],
    ['2001:DB8::/32', '2001:db8:0::/32'],
  ]) {
    fails(t, two(a as string, b as string), { code: 'invalid', key: 'client[1].address', line: 7, reason: `duplicate client address: the network of client[0] (${a})` });
  }
  // Nested or neighbouring networks are not duplicates: the longest prefix wins (clients.ts).
  t.equal(parseConfig(two('10.0.0.0/8', '10.1.0.0/16'), 'x.conf').client.length, 2);
  t.equal(parseConfig(two('10.0.0.1', '10.0.0.2'), 'x.conf').client.length, 2);
  t.equal(parseConfig(two('::ffff:10.0.0.0/64', '10.0.0.0/8'), 'x.conf').client.length, 2, 'an IPv6 block wider than the mapped range stays IPv6');
});

t.test('TOML syntax errors name the line', async (t) => {
  fails(t, '[otp]\nwindow = = 1\n', { code: 'syntax', key: '', line: 2 });
});

t.test('a missing or unreadable file is a ConfigError', async (t) => {
  const dir = tempDir('cfg-');
  t.throws(() => loadConfig(join(dir, 'nope.conf')), { code: 'io', reason: 'file not found' });
  t.throws(() => loadConfig(dir), { code: 'io', reason: /cannot be read \(EISDIR\)/ });
  const file = join(dir, 'ok.conf');
  writeFileSync(file, minimal);
  t.equal(loadConfig(file).client[0]?.name, 'gw');
});

t.test('config path: flag, then $RADIUS_OTP_CONFIG, then ./radius.conf', async (t) => {
  t.equal(configPath('a.conf', { RADIUS_OTP_CONFIG: 'b.conf' }), 'a.conf');
  t.equal(configPath(undefined, { RADIUS_OTP_CONFIG: 'b.conf' }), 'b.conf');
  t.equal(configPath(undefined, {}), 'radius.conf');
  t.equal(configPath(undefined, { RADIUS_OTP_CONFIG: '' }), 'radius.conf', 'set but empty: as unset');
});

t.test('listen addresses', async (t) => {
  t.same(parseListen('[::1]:1812'), { host: '::1', port: 1812 });
  t.same(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  t.equal(parseListen('1.2.3.4:99999'), null);
  t.equal(parseListen('1.2.3.4'), null);
  t.equal(parseListen('::1:1812'), null);
  t.equal(parseListen('[1.2.3.4]:1812'), null);
});

t.test('a key is found in every form TOML writes it', async (t) => {
  const window = { code: 'invalid', key: 'otp.window', reason: /<=10/ };
  fails(t, 'otp.window = 50\n', { ...window, line: 1 });
  fails(t, '# c\n otp . window = 50\n', { ...window, line: 2 });
  fails(t, '[otp]\nissuer = "x"\nwindow.x = 1\n', { code: 'invalid', key: 'otp.window', line: 3 });
  fails(t, '["otp"]\nwindow = 50\n', { ...window, line: 2 });
  fails(t, "[ 'otp' ]\n'window' = 50\n", { ...window, line: 2 });
  fails(t, '[otp]\n"win\\u0064ow" = 50\n', { ...window, line: 2 });
  fails(t, 'otp = { issuer = "x", window = 50 }\n', { ...window, line: 1 });
  fails(t, 'otp = {\n  issuer = "x",\n  window = 50,\n}\n', { ...window, line: 3 });
  // A multi-line string's lines are not keys, whatever they look like.
  fails(t, `[auth]\nchallenge_message = """\n[otp]\nwindow = 1\n"""""\n[server]\nname = '''\n[otp]'''\n[otp]\nwindow = 50\n`, { ...window, line: 10 });
  // [[client]] entries by index, as tables or as an array of inline tables.
  const entry = (name: string, secret: string): string => `{ name = "${name}", address = "10.0.0.${name.length}", secret = "${secret}" }`;
  fails(t, `client = [${entry('a', 'x')},\n  ${entry('bb', '')}]\n`, { code: 'invalid', key: 'client[1].secret', line: 2 });
  fails(t, '[[client]]\nname = "a"\naddress = "10.0.0.1"\nsecret = "x"\n[[client]]\nname = "b"\naddress = "10.0.0.2"\nsecret = "y"\n[client.extra]\n', {
    code: 'unknown-key',
    key: 'client[1].extra',
    line: 9,
  });
  fails(t, '[[reply]]\nuser = "a"\n[reply.attributes]\nClass = "x"\n[[reply]]\nuser = "b"\nattributes = { Class = 1.5 }\n', { code: 'invalid', key: 'reply[1].attributes.Class', line: 7 });
});

t.test('the key locator ends on any text, such as a file changed since it was loaded', async (t) => {
  const source = `a.b = [1, { c = "x\\"y" }, [2]] # z\n["t"."u"]\nk = """\nm"""\n[[v.w]]\n'q' = '''r'''\n`;
  for (let n = 0; n <= source.length; n++) t.type(locateKey(source.slice(0, n), ['v', 'w', 0, 'q']), 'number');
  t.equal(locateKey(source, ['v', 'w', 0, 'q']), 6);
  t.equal(locateKey(source, ['a', 'b', 1, 'c']), 1);
  t.equal(locateKey('a = [}, 2]\nb = 1\n', ['b']), 2, 'a stray brace');
});

t.test('key locator and formatter', async (t) => {
  t.equal(formatKey(['client', 2, 'secret']), 'client[2].secret');
  t.equal(formatKey([]), '');
  t.equal(locateKey('[a]\n"quoted key" = 1\n', ['a', 'quoted key']), 2);
  t.equal(locateKey('x = 1\n', ['nothing']), 0);
});
