import { CONTROL_CHARACTERS } from '../tokens/record.js';

/**
 * What a command may touch of the outside world. runCli gets one from bin/radius-otp (the real
 * process) or from a test (collecting buffers), so every command is testable in-process.
 */
export interface Io {
  /** Write to standard output (add your own newlines). */
  stdout(text: string): void;
  /** Write to standard error (add your own newlines). */
  stderr(text: string): void;
  /** All of standard input as text (for --password-stdin). */
  readStdin(): Promise<string>;
  /** True when stdout is a terminal: progress bars and QR codes only then. */
  isTTY: boolean;
  /** Stream a progress bar may draw on (stderr of the process), when isTTY. */
  progress?: NodeJS.WritableStream;
}

/** A refused operation (exit 1) or a usage error (exit 2), printed as one line on stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Options every command takes (SPEC: --config, --json). */
export interface GlobalArgs {
  config?: string;
  json?: boolean;
}

/** The secret read by --password-stdin: the first line, without its line ending. */
export function firstLine(text: string): string {
  const nl = text.search(/\r?\n/);
  return nl === -1 ? text : text.slice(0, nl);
}

/**
 * A serial, name or group as a message or table shows it: as it is, or, when it holds control
 * characters (stored before they were refused, or from a typo on the command line), JSON-quoted
 * with them escaped, so a terminal never receives them raw.
 */
export function shown(text: string): string {
  return CONTROL_CHARACTERS.test(text) ? quoted(text) : text;
}

/** JSON-quoted, with DEL and C1 escaped too (JSON escapes only C0). */
export function quoted(text: string): string {
  return json(text);
}

/**
 * JSON with DEL and C1 escaped as \u00XX too: JSON.stringify escapes only C0, and a C1 CSI
 * (U+009B) starts an escape sequence on some terminals. Still JSON, read back the same.
 */
export function json(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The handler of a command group (`user`, `token`, …): yargs runs a subcommand, never this. */
export function commandGroup(): void {}
