/**
 * `import pskc FILE` and `import csv FILE` (SPEC "Command line"). All or nothing: the parser
 * returns records and issues (ARCHITECTURE pattern 6); serials already stored and unknown users
 * are more issues, found in the store opened read-only (a dry run, or a refused file, creates
 * nothing: no database, no key file). Any issue prints every one of them, in file order, and
 * refuses the file; else one `importMany` call writes everything in one transaction.
 * Never prints a secret, a key or a password.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Argv, CommandModule } from 'yargs';
import { formatIssue, type ImportIssue, type ParseResult, type RecordPlace } from '../tokens/import/issue.js';
import type { PskcProtection } from '../tokens/import/pskc.js';
import type { Store } from '../store/types.js';
import { checkKeyFile } from '../store/open.js';
import type { TokenRecord } from '../tokens/record.js';
import { withStore, withStoreReadOnly } from './context.js';
import { CliError, commandGroup, firstLine, json, type GlobalArgs, type Io } from './io.js';
import { printRows, progressBar } from './output.js';

type ImportArgs = GlobalArgs & {
  file: string;
  keyHex?: string;
  keyFile?: string;
  passwordStdin?: boolean;
  legacy?: boolean;
  dryRun?: boolean;
  replace?: boolean;
  createUsers?: boolean;
};

const AES_KEY_BYTES = [16, 24, 32];

function readInput(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`${what}${file}: cannot read (${String((err as NodeJS.ErrnoException).code)})`, 1);
  }
}

/** A key as hex text (32, 48 or 64 hex digits); the message never repeats what was given. */
function hexKey(text: string, what: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]+$/.test(hex) || !AES_KEY_BYTES.includes(hex.length / 2)) {
    throw new CliError(`${what}: not an AES key (16, 24 or 32 bytes as 32, 48 or 64 hex digits)`, 1);
  }
  return Buffer.from(hex, 'hex');
}

async function protectionFrom(argv: ImportArgs, io: Io): Promise<PskcProtection> {
  const given = [argv.keyHex !== undefined, argv.keyFile !== undefined, argv.passwordStdin === true].filter(Boolean).length;
  if (given > 1) throw new CliError('give one of --key-hex, --key-file, --password-stdin', 2);
  const protection: PskcProtection = { legacy: argv.legacy === true };
  if (argv.keyHex !== undefined) protection.key = hexKey(argv.keyHex, '--key-hex');
  if (argv.keyFile !== undefined) {
    // A key file holds the raw key bytes, or the key in hex on one line.
    const raw = readInput(argv.keyFile, '--key-file ');
    protection.key = AES_KEY_BYTES.includes(raw.length) && !/^[0-9a-fA-F]+\s*$/.test(raw.toString('latin1')) ? raw : hexKey(raw.toString('latin1'), `--key-file ${argv.keyFile}`);
  }
  if (argv.passwordStdin === true) {
    const password = firstLine(await io.readStdin());
    if (password === '') throw new CliError('--password-stdin: the password is empty', 1);
    protection.password = password;
  }
  return protection;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Where an issue is in the file ('line 7', 'KeyPackage 3'), to list them in file order; 0 for the whole file. */
const position = (i: ImportIssue): number => Number(i.record.replace(/^\D*/, ''));

/**
 * Prints warnings and issues, the parser's and the store's together in file order; refuses the
 * file on any issue (nothing is written).
 */
function check(io: Io, file: string, result: ParseResult, found: readonly ImportIssue[]): void {
  for (const w of result.warnings) io.stderr(`warning: ${formatIssue(w)}\n`);
  const issues = [...result.issues, ...found].sort((a, b) => position(a) - position(b));
  for (const i of issues) io.stderr(`${formatIssue(i)}\n`);
  if (issues.length > 0) {
    const whole = issues.some((i) => i.record === 'file');
    const bad = new Set(issues.map((i) => i.record)).size;
    throw new CliError(`${file}: nothing imported (${whole ? 'the file is refused' : plural(bad, 'invalid record')})`, 1);
  }
  if (result.records.length === 0) throw new CliError(`${file}: nothing imported (no OTP tokens in the file)`, 1);
}

function planRow(r: TokenRecord, replacing: ReadonlySet<string>) {
  return {
    serial: r.serial,
    type: r.type,
    algorithm: r.algorithm,
    digits: r.digits,
    period: r.type === 'totp' ? r.period : null,
    counter: r.type === 'hotp' ? r.counter : null,
    user: r.user ?? null,
    action: replacing.has(r.serial) ? 'replace' : 'add',
  };
}

interface Found {
  existing: string[];
  missing: string[];
}

/** The file's serials already stored and its users not stored (with no store yet: no serial, every user). */
function lookUp(store: Store | undefined, records: readonly TokenRecord[]): Found {
  const users = [...new Set(records.flatMap((r) => (r.user === undefined ? [] : [r.user])))];
  if (store === undefined) return { existing: [], missing: users };
  return { existing: store.tokens.existingSerials(records.map((r) => r.serial)), missing: users.filter((u) => store.users.get(u) === undefined) };
}

/** A serial already stored (unless --replace) and a user not found (unless --create-users) make a bad record. */
function storeIssues(argv: ImportArgs, result: ParseResult, found: Found): ImportIssue[] {
  const taken = new Set(argv.replace === true ? [] : found.existing);
  const absent = new Set(argv.createUsers === true ? [] : found.missing);
  const issues: ImportIssue[] = [];
  result.records.forEach((r, i) => {
    const at = result.places[i] as RecordPlace;
    const issue = (field: string, reason: string) => issues.push({ file: argv.file, record: at.record, field, reason });
    if (taken.has(r.serial)) issue(at.serial, `serial ${r.serial} is already in the store (use --replace)`);
    if (r.user !== undefined && absent.has(r.user)) issue(at.user, `user ${r.user} not found (use --create-users)`);
  });
  return issues;
}

async function runImport(io: Io, argv: ImportArgs, parse: (content: Buffer) => ParseResult): Promise<void> {
  const file = argv.file;
  const content = readInput(file, '');
  const started = performance.now();
  const result = parse(content);
  const records = result.records;
  // Checked against the store as it stands, read-only: a dry run or a refused file creates nothing.
  // With no record to look up, no store (nor config) is needed to refuse the file.
  // A dry run also meets the key file as the import would (a key others may read, another key).
  const found =
    records.length === 0
      ? { existing: [], missing: [] }
      : await withStoreReadOnly(argv, ({ config, store }) => {
          if (argv.dryRun === true) checkKeyFile(config, store);
          return lookUp(store, records);
        });
  check(io, file, result, storeIssues(argv, result, found));
  const { existing, missing } = found;

  if (argv.dryRun === true) {
    const replacing = new Set(existing);
    const rows = records.map((r) => planRow(r, replacing));
    if (argv.json === true) {
      io.stdout(`${json({ file, dryRun: true, tokens: rows, replace: existing.length, createUsers: missing })}\n`);
      return;
    }
    printRows(io, false, rows, ['serial', 'type', 'algorithm', 'digits', 'period', 'counter', 'user', 'action']);
    io.stdout(`dry run: would import ${plural(records.length, 'token')} from ${file} (${existing.length} replaced, ${plural(missing.length, 'user')} created); nothing written\n`);
    return;
  }

  const bar = await progressBar(io, 'importing [{bar}] {value}/{total} tokens', false);
  await withStore(argv, io, ({ store }) => {
    bar?.start(records.length, 0);
    const progress = bar === undefined ? undefined : (n: number): void => bar.update(n);
    const done = store.tokens.importMany(records, { replace: argv.replace === true, createUsers: argv.createUsers === true }, progress);
    if (bar !== undefined) {
      bar.update(records.length);
      bar.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const imported = done.inserted + done.replaced;
    if (argv.json === true) {
      io.stdout(`${json({ file, imported, replaced: done.replaced, usersCreated: done.usersCreated, seconds: Number(seconds.toFixed(3)) })}\n`);
    } else {
      io.stdout(
        `imported ${plural(imported, 'token')} from ${file} (${done.replaced} replaced, ${plural(done.usersCreated, 'user')} created) in ${seconds.toFixed(1)} s\n`,
      );
    }
  });
}

export function importCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  const common = (y: Argv<GlobalArgs>) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the file to import' })
      .option('dry-run', { type: 'boolean', describe: 'validate everything and print what would be imported; write nothing' })
      .option('replace', { type: 'boolean', describe: 'renew the secret and parameters of tokens whose serial is already stored (each keeps its user unless the file names one, its enabled flag, lock and used codes)' })
      .option('create-users', { type: 'boolean', describe: 'create users named in the file when missing (no password)' });
  return {
    command: 'import <format>',
    describe: 'import OATH tokens from PSKC (RFC 6030) or Base32 CSV files (all or nothing)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<ImportArgs>(
          'pskc <file>',
          'import from an RFC 6030 PSKC file (plain, pre-shared key or PBKDF2 password)',
          (y) =>
            common(y)
              .option('key-hex', { type: 'string', requiresArg: true, describe: 'pre-shared AES key in hex (visible in ps: prefer --key-file)' })
              .option('key-file', { type: 'string', requiresArg: true, describe: 'file holding the pre-shared AES key (raw bytes or hex)' })
              .option('password-stdin', { type: 'boolean', describe: 'read the PBKDF2 password from the first line of stdin' })
              .option('legacy', { type: 'boolean', describe: 'accept pre-RFC 6030 MACs (over the plaintext, or without MACKey)' }) as unknown as Argv<ImportArgs>,
          async (argv) => {
            const protection = await protectionFrom(argv, io);
            const { parsePskc } = await import('../tokens/import/pskc.js');
            await runImport(io, argv, (content) => parsePskc(content, argv.file, protection));
          },
        )
        .command<ImportArgs>(
          'csv <file>',
          'import from a Base32 CSV file (Entra/Azure columns, or serial,secret[,interval[,digits[,algorithm]]])',
          (y) => common(y) as unknown as Argv<ImportArgs>,
          async (argv) => {
            const { parseCsv } = await import('../tokens/import/csv.js');
            await runImport(io, argv, (content) => parseCsv(content, argv.file));
          },
        )
        .demandCommand(1, 'name a format: pskc or csv')
        .strict(),
    handler: commandGroup,
  };
}
