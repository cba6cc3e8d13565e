/**
 * RELIABILITY B1/B8 over loopback with radclient: require_message_authenticator = "auto" is
 * decided by a client's first Access-Request, and `client list` shows the effective value.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import winston from 'winston';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import { parseConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server/app.js';
import { cli } from '../helpers/cli.js';
import { radclient } from '../helpers/radclient.js';
import { SECRET, startTestServer, testConfig } from '../helpers/server.js';

const MA = 'Message-Authenticator = 0x00'; // radclient 3.2.1 signs the request when the input has it
const ask = (ma: string) => `User-Name = "alice", User-Password = "pw", NAS-Identifier = "gw"${ma === '' ? '' : `, ${ma}`}`;

interface Row {
  name: string;
  require_message_authenticator: string;
  effective: string;
  decided_at: string | null;
}

t.test('auto: the first request decides; client list shows it', async (t) => {
  const server = 'require_message_authenticator = "auto"';
  const s = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n', server, clients: '[[client]]\nname = "strict"\naddress = "192.0.2.1"\nsecret = "other-secret"\nrequire_message_authenticator = true\n' });
  t.teardown(() => s.stop());
  await s.addUser('alice', 'pw');
  const list = async (): Promise<Record<string, Row>> => {
    const r = await cli(['client', 'list', '--json', '--config', s.configFile]);
    t.equal(r.code, 0, r.stderr);
    return Object.fromEntries((JSON.parse(r.stdout) as Row[]).map((row) => [row.name, row]));
  };

  let rows = await list();
  t.match(rows, { local: { require_message_authenticator: 'auto', effective: 'undecided', decided_at: null }, strict: { require_message_authenticator: 'yes', effective: 'yes' } });

  // IPv4 client: first request without MA → no from then on (and a warning).
  t.equal((await radclient(s.v4, SECRET, ask(''))).reply, 'Access-Accept');
  t.equal((await radclient(s.v4, SECRET, ask(''))).reply, 'Access-Accept', 'still taken without MA');
  t.ok(s.logs.some((l) => l.level === 'warn' && String(l.message).startsWith('require_message_authenticator auto: no') && l.client === 'local'));
  // IPv6 client: first request with MA → yes; then a request without MA gets nothing.
  t.equal((await radclient(s.v6!, SECRET, ask(MA))).reply, 'Access-Accept');
  t.equal((await radclient(s.v6!, SECRET, ask(''), { timeout: 1, retries: 1 })).reply, null, 'dropped: MA now required');
  t.ok(s.logs.some((l) => l.message === 'dropped packet' && l.reason === 'ma-missing' && l.client === 'local6'));

  rows = await list();
  t.match(rows, { local: { effective: 'no', decided_at: /^\d{4}-/ }, local6: { effective: 'yes', decided_at: /^\d{4}-/ } });
  const table = await cli(['client', 'list', '--config', s.configFile]);
  t.match(table.stdout, /^name\s+address\s+primary\s+require_message_authenticator\s+effective\s+decided_at\n/);
  t.notMatch(table.stdout + table.stderr, /testing123|other-secret/, 'never a secret');

  // SIGHUP: the same client keeps its decision; one with a new secret is undecided again.
  const next = testConfig(s.dir, '[auth]\nusers_without_token = "password-only"\n', undefined, server).replace(/(name = "local6"\naddress = "::1"\nsecret = )"testing123"/, '$1"new-secret-0123456789"');
  writeFileSync(s.configFile, next);
  s.server.reload(parseConfig(next, s.configFile));
  rows = await list();
  t.equal(rows.local?.effective, 'no', 'kept');
  t.equal(rows.local6?.effective, 'undecided', 'a new secret: decided again');
  t.equal((await radclient(s.v4, SECRET, ask(''))).reply, 'Access-Accept');
  t.equal((await radclient(s.v6!, 'new-secret-0123456789', ask(''))).reply, 'Access-Accept');
  rows = await list();
  t.equal(rows.local6?.effective, 'no');
});

t.test('a stop or a restart forgets the decisions (B8: they do not persist)', async (t) => {
  const s = await startTestServer({ extra: '[auth]\nusers_without_token = "password-only"\n', server: 'require_message_authenticator = "auto"' });
  await s.addUser('alice', 'pw');
  t.equal((await radclient(s.v4, SECRET, ask(''))).reply, 'Access-Accept');
  await s.stop();
  const stopped = await cli(['client', 'list', '--json', '--config', s.configFile]);
  t.match(JSON.parse(stopped.stdout), [{ name: 'local', effective: 'undecided' }], 'a clean stop clears them');
  // A server killed (no clean stop) leaves its rows: the next start clears them.
  const { openStore } = await import('../../src/store/open.js');
  const store = openStore(parseConfig(testConfig(s.dir), s.configFile), () => {});
  store.clientMa.record('test-server', 'local', 'no', 1);
  store.close();
  const logger = winston.createLogger({ silent: true });
  const again = await startServer(parseConfig(testConfig(s.dir, '', ['127.0.0.1:0'], 'require_message_authenticator = "auto"'), s.configFile), { logger, configFile: s.configFile, audit: memoryAuditSink() });
  t.teardown(() => again.stop());
  const r = await cli(['client', 'list', '--json', '--config', s.configFile]);
  t.match(JSON.parse(r.stdout), [{ name: 'local', effective: 'undecided' }, { name: 'local6', effective: 'undecided' }]);
});
