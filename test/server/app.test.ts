/** Start-up faults close what was opened; reload applies new clients and refuses bad rules. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { testConfig, startTestServer } from '../helpers/server.js';
import { startServer } from '../../src/server/app.js';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import winston from 'winston';

const quiet = () => winston.createLogger({ silent: true });

t.test('an address in use: start fails, and everything opened is closed again', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const text = testConfig(a.dir, '', [`127.0.0.1:${a.v4.port}`]);
  const config = parseConfig(text, `${a.dir}/radius.conf`);
  await t.rejects(startServer(config, { logger: quiet(), configFile: `${a.dir}/radius.conf`, audit: memoryAuditSink() }), { code: 'EADDRINUSE' });
  t.ok(a.server.store.users.list(), 'the shared store still works for the running server');
});

t.test('reload: new clients apply; invalid reply rules are refused and the old config stays', async (t) => {
  const a = await startTestServer();
  t.teardown(() => a.stop());
  const next = parseConfig(testConfig(a.dir, '[[reply]]\nuser = "x"\nattributes = { "Nope-Attr" = "1" }\n'), a.configFile);
  t.throws(() => a.server.reload(next), { key: 'reply[0].attributes' });
  const moved = parseConfig(testConfig(a.dir, '', ['127.0.0.1:1']), a.configFile);
  a.server.reload(moved);
  t.ok(a.logs.some((l) => l.message === 'server.listen changed: restart to apply'));
  t.ok(a.logs.some((l) => l.message === 'reloaded'));
});
