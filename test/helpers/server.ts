/** An in-process server on loopback port 0 with a temp store, for end-to-end tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { memoryAuditSink } from '../../src/audit/audit-log.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { createArgon2Hasher } from '../../src/auth/passwords.js';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import { tempDir } from './tmp.js';

export const SECRET = 'testing123';

export interface TestServer {
  server: RunningServer;
  v4: { host: string; port: number };
  v6: { host: string; port: number } | null;
  dir: string;
  configFile: string;
  audit: AuditEvent[];
  /** The socket bound to this address (tests with several loopback addresses). */
  at(address: string): { host: string; port: number };
  logs: Array<Record<string, unknown>>;
  addUser(name: string, password: string | null): Promise<void>;
  stop(): Promise<void>;
}

/** `server` and `store` hold more [server] and [store] keys, `extra` tables after [log]. */
export function testConfig(dir: string, extra = '', listen = ['127.0.0.1:0', '[::1]:0'], server = '', store = ''): string {
  return `
[server]
name = "test-server"
listen = ${JSON.stringify(listen)}
${server === '' ? '' : `${server}\n`}[store]
path = "${join(dir, 'radius-otp.db')}"
key_file = "${join(dir, 'master.key')}"
${store === '' ? '' : `${store}\n`}[log]
audit = ""
level = "debug"
drop_log_per_second = 1000
${extra}
[[client]]
name = "local"
address = "127.0.0.1"
secret = "${SECRET}"
[[client]]
name = "local6"
address = "::1"
secret = "${SECRET}"
`;
}

export async function startTestServer(
  opts: { extra?: string; server?: string; store?: string; clients?: string; now?: () => number; listen?: string[]; drainMs?: number } = {},
): Promise<TestServer> {
  const dir = tempDir('radius-otp-e2e-');
  const configFile = join(dir, 'radius.conf');
  const text = testConfig(dir, opts.extra, opts.listen, opts.server, opts.store) + (opts.clients ?? '');
  writeFileSync(configFile, text);
  const config = parseConfig(text, configFile);
  const logs: Array<Record<string, unknown>> = [];
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _enc, cb) {
            logs.push(JSON.parse(String(chunk)) as Record<string, unknown>);
            cb();
          },
        }),
      }),
    ],
  });
  const sink = memoryAuditSink();
  const server = await startServer(config, { logger, configFile, audit: sink, now: opts.now, drainMs: opts.drainMs });
  const v4 = server.sockets.find((s) => !s.address.includes(':')) as { address: string; port: number };
  const v6 = server.sockets.find((s) => s.address.includes(':')) ?? null;
  const hasher = await createArgon2Hasher(1);
  return {
    server,
    v4: { host: v4.address, port: v4.port },
    v6: v6 && { host: v6.address, port: v6.port },
    dir,
    configFile,
    audit: sink.events,
    at(address) {
      const b = server.sockets.find((x) => x.address === address);
      if (!b) throw new Error(`not listening on ${address}`);
      return { host: b.address, port: b.port };
    },
    logs,
    async addUser(name, password) {
      server.store.users.add(name, password === null ? null : await hasher.hash(password));
    },
    stop: () => server.stop(),
  };
}
