/** Runs a CLI command in-process with collected output (and the progress stream, for TTY runs). */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { tempDir } from './tmp.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** What a progress bar drew (only when isTTY). */
  progress: string;
}

export async function cli(args: readonly string[], stdin = '', opts: { isTTY?: boolean } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let progress = '';
  const tty = opts.isTTY ?? false;
  const stream = new Writable({
    write(chunk, _enc, cb) {
      progress += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = true;
  stream.columns = 80;
  const io: Io = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: async () => stdin,
    isTTY: tty,
    progress: tty ? stream : undefined,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr, progress };
}

/** A config file in a fresh directory; returns a runner bound to it. */
export function cliWorkspace(extra = ''): { dir: string; config: string; run: (args: readonly string[], stdin?: string) => Promise<CliRun> } {
  const dir = tempDir('radius-otp-cli-');
  const config = join(dir, 'radius.conf');
  writeFileSync(config, `[store]\npath = "db/radius-otp.db"\nkey_file = "db/master.key"\n${extra}`);
  return { dir, config, run: (args, stdin) => cli([...args, '--config', config], stdin) };
}

/**
 * A workspace with user alice and token R-1 whose key rotation stopped between its commit and its
 * rename (store/rotate-key.ts): KEY_FILE.new holds the key that sealed the store. Returns the
 * workspace and its key file.
 */
export async function interruptedRotation(t: Tap.Test): Promise<ReturnType<typeof cliWorkspace> & { keyFile: string }> {
  const w = cliWorkspace();
  t.equal((await w.run(['user', 'add', 'alice'])).code, 0);
  t.equal((await w.run(['enroll', 'alice', '--serial', 'R-1'])).code, 0);
  const { loadConfig } = await import('../../src/config/load.js');
  const { rotateKey } = await import('../../src/store/rotate-key.js');
  const config = loadConfig(w.config);
  const crash = new Error('killed');
  t.throws(() => rotateKey(config, { afterCommit: () => { throw crash; } }), crash);
  t.ok(existsSync(`${config.store.key_file}.new`));
  return { ...w, keyFile: config.store.key_file };
}
