/**
 * The `radius-otp` command line (SPEC "Command line"). Exit codes: 0 success, 1 refused
 * operation, 2 usage error; errors are one line on stderr.
 */
import yargs from 'yargs';
import { StoreError } from '../store/types.js';
import { appPasswordCommands } from './app-passwords.js';
import { backupCommand } from './backup.js';
import { clientCommands } from './clients.js';
import { keyCommands } from './key.js';
import { enrollCommand } from './enroll.js';
import { importCommands } from './import.js';
import { CliError, type Io } from './io.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { tokenCommands } from './tokens.js';
import { userCommands } from './users.js';

export async function runCli(args: readonly string[], io: Io, signals?: NodeJS.EventEmitter): Promise<number> {
  const parser = yargs([...args])
    .scriptName('radius-otp')
    .option('config', { type: 'string', requiresArg: true, describe: 'configuration file (default ./radius.conf or $RADIUS_OTP_CONFIG)', global: true })
    .option('json', { type: 'boolean', describe: 'machine-readable output', global: true })
    .command(serveCommand(io, signals))
    .command(userCommands(io))
    .command(tokenCommands(io))
    .command(importCommands(io))
    .command(enrollCommand(io))
    .command(appPasswordCommands(io))
    .command(reportCommand(io))
    .command(clientCommands(io))
    .command(backupCommand(io))
    .command(keyCommands(io))
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .help('help', 'show this help')
    .version(false)
    // yargs lists bad --by/--format values on lines of their own: one line, naming the option.
    // A value that starts with '-' (`--since -d`) is taken for an option, leaving none: say how to give it.
    .updateStrings({
      'Argument: %s, Given: %s, Choices: %s': '--%s: %s is not one of %s',
      'Not enough arguments following: %s': '--%s needs a value (one that starts with "-" is given as --option=value)',
    })
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .showHelpOnFail(false)
    // A usage error must stop the command before it runs: yargs calls this from its validation
    // and, with exitProcess(false), would go on to the handler if it returned (a mistyped
    // `--dryrun` imported for real, and a missing <serial> reached the store as "undefined").
    // Errors of yargs's own (YError: an option without its value) are usage errors too.
    .fail((msg, err) => {
      if (err !== undefined && err !== null && err.name !== 'YError') throw err;
      throw new CliError((msg ?? err?.message).replace(/\s*\n\s*/g, ' '), 2);
    });
  try {
    let helpText = '';
    await parser.parseAsync([...args], {}, (_err, _argv, output) => {
      helpText = output;
    });
    if (helpText) io.stdout(`${helpText}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`radius-otp: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof StoreError) {
      io.stderr(`radius-otp: ${describeStoreError(err)}\n`);
      return 1;
    }
    io.stderr(`radius-otp: ${(err as Error).message}\n`);
    return 1;
  }
}

/** "2 serial(s) already in the store (use --replace): A1, A2", at most 20 named. */
export function describeStoreError(err: StoreError): string {
  if (err.details.length === 0) return err.message;
  const more = err.details.length > 20 ? `, and ${err.details.length - 20} more` : '';
  return `${err.message}: ${err.details.slice(0, 20).join(', ')}${more}`;
}

/** The real process's Io. */
export function processIo(): Io {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    isTTY: Boolean(process.stdout.isTTY),
    progress: process.stderr,
  };
}

export async function main(): Promise<void> {
  // `radius-otp token list | head`: the reader has gone, so the rest of the output has nowhere
  // to go. Stop quietly, as Unix tools do, rather than crash with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    /* c8 ignore next -- any other error on stdout (EBADF, EIO) stays a crash with its trace */
    if (err.code !== 'EPIPE') throw err;
    process.exit(); // with process.exitCode, when the command has set one
  });
  process.exitCode = await runCli(process.argv.slice(2), processIo());
}
