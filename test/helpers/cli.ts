/** Runs a CLI command in-process with collected output (and the progress stream, for TTY runs). */
import { writeFileSync } from 'node:fs';
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
