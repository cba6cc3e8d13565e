import t from 'tap';
import winston from 'winston';
import { createLogger, setLevel, writes, type LogLevel } from '../../src/audit/logger.js';
import { isSecretKey, redact, redactObject, REDACTED, scrub } from '../../src/audit/redact.js';

const SECRETS = ['hunter2-pass', 'JBSWY3DPEHPK3PXP', 'testing123', 'S3cr3t!bind', '287082'];

/** Collects what goes to stderr (stdout carries tap's own output, so it is left alone). */
function capture(t: Tap.Test): { lines: string[] } {
  const lines: string[] = [];
  const err = process.stderr.write;
  process.stderr.write = ((c: string | Uint8Array) => (lines.push(...String(c).split('\n').filter(Boolean)), true)) as typeof err;
  t.teardown(() => void (process.stderr.write = err));
  return { lines };
}
declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

function assertClean(t: Tap.Test, text: string, secrets: readonly string[] = SECRETS): void {
  for (const s of secrets) t.notOk(text.includes(s), `no "${s}"`);
}

t.test('secret-looking keys', async (t) => {
  for (const k of [
    'password', 'Password', 'userPassword', 'user_password', 'User-Password', 'passwd', 'pwd', 'passphrase',
    'secret', 'token_secret', 'tokenSecret', 'client.secret', 'sharedsecret', 'otp', 'otpCode', 'code', 'totp',
    'key', 'masterKey', 'key_hex', 'apikey', 'privateKey', 'State', 'state', 'pin', 'authorization', 'cookie',
    'credentials', 'password_hash', 'bindPassword',
  ]) t.ok(isSecretKey(k), k);
  for (const k of [
    'user', 'token_serial', 'serial', 'reason', 'mode', 'client_ip', 'nas_identifier', 'calling_station_id',
    'key_file', 'bind_password_file', 'password_length', 'secret_id', 'monkey', 'keyboard', 'footprint',
    'statement', 'message', 'digits', 'hasPassword' /* boolean anyway */,
  ].filter((k) => k !== 'hasPassword')) t.notOk(isSecretKey(k), k);
  t.ok(isSecretKey('hasPassword'), 'the key is secret-looking; its boolean value is kept');
});

t.test('redactObject masks at any depth and never changes its input', async (t) => {
  const input = {
    user: 'alice',
    password: 'hunter2-pass',
    hasPassword: true,
    nested: { deep: [{ token_secret: 'JBSWY3DPEHPK3PXP', serial: 'T1' }, 'plain'] },
    packet: Buffer.from('testing123'),
    bytes: new Uint8Array([1, 2, 3]),
    when: new Date(0),
    none: null,
    missing: undefined,
    state: undefined,
    n: 5,
    code: 'ENOENT',
    code2: { code: 'serial-exists' },
    radius: { code: 2 },
    otp_code: 287082,
    codes: ['287082'],
  };
  const copy = structuredClone({ ...input, packet: undefined, bytes: undefined });
  const out = redactObject(input) as Record<string, unknown>;
  t.same(out, {
    user: 'alice',
    password: REDACTED,
    hasPassword: true,
    nested: { deep: [{ token_secret: REDACTED, serial: 'T1' }, 'plain'] },
    packet: '[buffer 10 bytes]',
    bytes: '[buffer 3 bytes]',
    when: new Date(0),
    none: null,
    missing: undefined,
    state: undefined,
    n: 5,
    code: 'ENOENT',
    code2: { code: 'serial-exists' },
    radius: { code: 2 },
    otp_code: REDACTED,
    codes: REDACTED,
  });
  t.same({ ...input, packet: undefined, bytes: undefined }, copy, 'input unchanged');
  assertClean(t, JSON.stringify(out));
});

t.test('cycles, depth, errors with extra properties', async (t) => {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = a;
  a.list = [a];
  let deep: Record<string, unknown> = { v: 'bottom' };
  for (let i = 0; i < 20; i++) deep = { d: deep };
  const err = Object.assign(new Error('bind as cn=x with S3cr3t!bind failed'), { code: 'EAUTH', password: 'hunter2-pass' });
  const noStack = new Error('no stack');
  delete noStack.stack;
  const out = redactObject({ a, deep, err, noStack }, { knownSecrets: SECRETS }) as Record<string, any>;
  t.equal(out.a.self, '[circular]');
  t.equal(out.a.list[0], '[circular]');
  t.match(JSON.stringify(out.deep), /"\[depth\]"/);
  t.equal(out.err.name, 'Error');
  t.equal(out.err.code, 'EAUTH');
  t.equal(out.err.password, REDACTED);
  t.match(out.err.message, /bind as cn=x with \[redacted\] failed/);
  t.match(out.err.stack, /^Error: bind as cn=x with \[redacted\] failed/);
  t.same(out.noStack, { name: 'Error', message: 'no stack' });
  assertClean(t, JSON.stringify(out));
  // the same object twice (not a cycle) is printed twice
  const shared = { v: 1 };
  t.same(redactObject({ x: shared, y: shared }), { x: { v: 1 }, y: { v: 1 } });
  // without free-text scrubbing (the audit log), an Error message only loses known secrets
  const plain = redactObject({ err: new Error('user 1234567 key=abc testing123') }, { knownSecrets: ['testing123'], scrubText: false }) as Record<string, any>;
  t.equal(plain.err.message, 'user 1234567 key=abc [redacted]');
});

t.test('a key named __proto__ is data, not a prototype', async (t) => {
  const meta = JSON.parse('{"__proto__":{"password":"hunter2-pass","x":1},"nested":{"__proto__":{"secret":"testing123"}}}');
  const out = redactObject(meta);
  t.equal(Object.getPrototypeOf(out), Object.prototype);
  t.equal(JSON.stringify(out), '{"__proto__":{"password":"[redacted]","x":1},"nested":{"__proto__":{"secret":"[redacted]"}}}');
});

t.test('known secrets as a function, short ones ignored', async (t) => {
  let secrets = ['testing123'];
  const out = redactObject({ note: 'secret is testing123, ab' }, { knownSecrets: () => [...secrets, 'ab'] });
  t.same(out, { note: 'secret is [redacted], ab' });
  secrets = [];
  t.same(redactObject({ note: 'testing123' }, { knownSecrets: () => secrets }), { note: 'testing123' });
  // longest first: a secret containing another is masked whole
  t.equal(scrub('xx abcdef xx', ['abc', 'abcdef']), 'xx [redacted] xx');
});

t.test('scrub: free text', async (t) => {
  const cases: Array<[string, string]> = [
    ['login password=hunter2-pass ok', 'login password=[redacted] ok'],
    ['User-Password: "hunter2 pass" x', 'User-Password: "[redacted]" x'],
    ['{"secret":"JBSWY3DPEHPK3PXP","user":"bob"}', '{"secret":"[redacted]","user":"bob"}'],
    ["key='abc", "key='[redacted]"],
    ['otpauth://totp/x:alice?secret=JBSWY3DPEHPK3PXP&issuer=y', 'otpauth://totp/x:alice?secret=[redacted]&issuer=y'],
    ['foo:password=abc', 'foo:password=[redacted]'],
    ['exit code: 2, error code=ENOENT, code=serial-exists', 'exit code: 2, error code=ENOENT, code=serial-exists'],
    ['code=287082', 'code=[redacted]'],
    ['code="287082"', 'code="[redacted]"'],
    ['code=1000', 'code=[redacted]'],
    ['user bob entered 287082 at 10:00:01', 'user bob entered [redacted] at 10:00:01'],
    ['ip 10.0.0.1 port 1812 ts 1700000000 date 2026-11-22 v1.2.3456789', 'ip 10.0.0.1 port 1812 ts 1700000000 date 2026-11-22 v1.2.3456789'],
    ['password=[redacted] already', 'password=[redacted] already'],
    ['password= ', 'password= '],
    ['password=""', 'password=""'],
    ['state="', 'state="'],
    ['http://host:8080/x', 'http://host:8080/x'],
    ['nothing here', 'nothing here'],
  ];
  for (const [input, want] of cases) t.equal(scrub(input), want, input);
  t.equal(scrub('shared testing123 and password=testing123', ['testing123']), 'shared [redacted] and password=[redacted]');
});

t.test('the key cache stays bounded', async (t) => {
  for (let i = 0; i < 10_050; i++) redactObject({ [`field${i}`]: 1 });
  t.ok(isSecretKey('password'));
});

t.test('createLogger: every path, one JSON line each on stderr, no secret anywhere', async (t) => {
  const { lines } = capture(t);
  const logger = createLogger({ level: 'debug', knownSecrets: () => SECRETS });
  const err = Object.assign(new Error('cannot bind with S3cr3t!bind'), { code: 'EAUTH', bindPassword: 'S3cr3t!bind' });
  logger.info('login for alice with password=hunter2-pass');
  logger.info('meta', { password: 'hunter2-pass', nested: { deep: [{ token_secret: 'JBSWY3DPEHPK3PXP' }] } });
  logger.warn('client secret testing123 in free text, code 287082');
  logger.error(err);
  logger.error('while binding', err);
  logger.error('while binding', { err });
  logger.log({ level: 'warn', message: 'as object', state: Buffer.from('abc'), client: { secret: 'testing123' } });
  logger.debug('splat %s', 'hunter2-pass');
  logger.info({ message: 'obj', key: 'JBSWY3DPEHPK3PXP' });
  await new Promise<void>((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  t.equal(lines.length, 9, 'every line on stderr');
  for (const l of lines) {
    const o = JSON.parse(l);
    t.type(o.timestamp, 'string');
    t.type(o.level, 'string');
  }
  assertClean(t, lines.join('\n'));
  t.match(JSON.parse(lines[3]!), { level: 'error', message: 'cannot bind with [redacted]', code: 'EAUTH', bindPassword: REDACTED });
  t.match(JSON.parse(lines[5]!).err, { message: 'cannot bind with [redacted]', code: 'EAUTH' });
});

t.test('createLogger without known secrets still masks by key and in text; setLevel', async (t) => {
  const { lines } = capture(t);
  const logger = createLogger({ level: 'warn' });
  logger.info('dropped: below the level');
  logger.warn('x', { otp: '287082' });
  setLevel(logger, 'debug');
  logger.debug('now shown, key=abcdef');
  setLevel(logger, 'error');
  logger.warn('dropped again');
  await new Promise<void>((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  t.equal(lines.length, 2);
  t.match(JSON.parse(lines[0]!), { level: 'warn', otp: REDACTED });
  t.match(JSON.parse(lines[1]!), { level: 'debug', message: 'now shown, key=[redacted]' });
});

t.test('writes() answers as winston does, after every setLevel', async (t) => {
  const levels: LogLevel[] = ['error', 'warn', 'info', 'debug'];
  const logger = createLogger({ level: 'warn' });
  for (const configured of levels) {
    setLevel(logger, configured);
    for (const level of levels) t.equal(writes(logger, level), logger.isLevelEnabled(level), `${level} at ${configured}`);
  }
  t.equal(writes(logger, 'info'), true);
  t.equal(writes(logger, 'debug'), true);
  setLevel(logger, 'warn');
  t.equal(writes(logger, 'info'), false);
  t.equal(writes(logger, 'warn'), true);
  logger.level = 'verbose'; // not one of ours: nothing is written
  t.equal(writes(logger, 'error'), false);
});

t.test('redact() as a winston format on any logger', async (t) => {
  const out: string[] = [];
  const logger = winston.createLogger({
    format: winston.format.combine(redact({ knownSecrets: ['testing123'] }), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: new (await import('node:stream')).Writable({ write(c, _e, cb) { out.push(String(c)); cb(); } }) })],
  });
  logger.info('x testing123', { pin: '1234' });
  await new Promise<void>((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  t.same(JSON.parse(out[0]!), { level: 'info', message: 'x [redacted]', pin: REDACTED });
  // default options
  const f = redact();
  t.same(f.transform({ level: 'info', message: 'm', password: 'p' }, f.options), { level: 'info', message: 'm', password: REDACTED });
});
