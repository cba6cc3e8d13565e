/**
 * serve's handling of startServer's onFatal (a WAL sync that failed, store.synchronous =
 * "full"), in-process with startServer replaced: serve stops the server and exits 1 saying why,
 * also when the failure came while the server was still starting.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliError } from '../../src/cli/io.js';
import type { ServerOptions } from '../../src/server/app.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG = '[server]\nlisten = ["127.0.0.1:0"]\n[log]\nlevel = "error"\n[[client]]\nname = "gw"\naddress = "127.0.0.1"\nsecret = "s1"\n';

async function serveWith(t: Tap.Test, fatalAt: 'start' | 'running') {
  const dir = tempDir('radius-otp-serve-fatal-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, CONFIG);
  let stops = 0;
  let fail: (err: Error) => void = () => {};
  const { serveCommand } = await t.mockImport<typeof import('../../src/cli/serve.js')>('../../src/cli/serve.js', {
    '../../src/server/app.js': {
      startServer: async (_config: unknown, opts: ServerOptions) => {
        fail = (err) => opts.onFatal?.(err);
        if (fatalAt === 'start') fail(new Error('cannot sync the WAL (EIO)'));
        return { sockets: [{ address: '127.0.0.1', port: 1812 }, { address: '::1', port: 1812 }], reload: () => {}, stop: async () => void stops++ };
      },
    },
  });
  const out: string[] = [];
  const signals = new EventEmitter();
  const handler = serveCommand({ stdout: (s) => out.push(s), stderr: () => {}, readStdin: async () => '' }, signals).handler as (a: object) => Promise<void>;
  const done = handler({ config });
  return { done, out, signals, stops: () => stops, fail: (err: Error) => fail(err) };
}

t.test('a sync failure while running: the server stops, serve exits 1 with the reason', async (t) => {
  const s = await serveWith(t, 'running');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(s.stops(), 0, 'running');
  s.fail(new Error('cannot sync the WAL (EIO)'));
  s.fail(new Error('a second report'));
  const err = (await s.done.then(() => null, (e: unknown) => e)) as CliError | null;
  t.equal(err?.message, 'stopped: cannot sync the WAL (EIO)', 'the first reason');
  t.equal(err?.exitCode, 1);
  t.equal(s.stops(), 1, 'stopped once');
  t.equal(s.signals.listenerCount('SIGTERM'), 0, 'signal handlers removed');
});

t.test('a sync failure before startServer returned: the server is stopped as soon as it is up', async (t) => {
  const s = await serveWith(t, 'start');
  const err = (await s.done.then(() => null, (e: unknown) => e)) as CliError | null;
  t.equal(err?.message, 'stopped: cannot sync the WAL (EIO)');
  t.equal(s.stops(), 1);
  t.equal(s.out.join(''), 'radius-otp listening on 127.0.0.1:1812, [::1]:1812\n', 'said before it stopped');
});

t.test('SIGTERM then a failure during the stop: stopped once, and serve still exits 1', async (t) => {
  const s = await serveWith(t, 'running');
  await new Promise((r) => setTimeout(r, 50));
  s.signals.emit('SIGTERM');
  s.fail(new Error('cannot sync the WAL (EIO)'));
  const err = (await s.done.then(() => null, (e: unknown) => e)) as CliError | null;
  t.equal(err?.message, 'stopped: cannot sync the WAL (EIO)');
  t.equal(s.stops(), 1);
});
