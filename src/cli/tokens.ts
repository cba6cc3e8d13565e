/** `token list|show|assign|unassign|enable|disable|delete|unlock|resync` — never a secret. */
import type { Argv, CommandModule } from 'yargs';
import { isCodeShape } from '../otp/verify.js';
import { resyncHotp, resyncTotp } from '../otp/resync.js';
import type { StoredToken } from '../store/types.js';
import { KNOWN_USER, knownUser, withStore } from './context.js';
import { CliError, commandGroup, json, shown, type GlobalArgs, type Io } from './io.js';
import { isoTime, printRows, type Row } from './output.js';

type TokenArgs = GlobalArgs & { serial: string; name?: string; user?: string; code1?: string; code2?: string; force?: boolean };

/** RFC 4226 §7.4 / RELIABILITY O5: the resync search spans this many steps or counts. */
const RESYNC_RANGE = 1000;

export function tokenRow(t: StoredToken): Row {
  return {
    serial: t.serial,
    type: t.type,
    algorithm: t.algorithm,
    digits: t.digits,
    period: t.type === 'totp' ? t.period : null,
    counter: t.type === 'hotp' ? t.counter : null,
    drift: t.type === 'totp' ? t.drift : null,
    user: t.user,
    enabled: t.enabled,
    failures: t.failures,
    locked: t.lockedAt !== null,
    last_used: isoTime(t.lastUsedAt),
  };
}

const LIST_COLUMNS = ['serial', 'type', 'algorithm', 'digits', 'user', 'enabled', 'failures', 'locked', 'last_used'];

function found<T>(value: T | undefined | false, serial: string): T {
  if (value === undefined || value === false) throw new CliError(`no token with serial ${shown(serial)}`, 1);
  return value;
}

export function tokenCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  const serial = (y: Argv<GlobalArgs>) => y.positional('serial', { type: 'string', demandOption: true, describe: 'the token’s serial number' });
  const simple = (command: string, describe: string, act: (args: TokenArgs) => Promise<void>) =>
    [command, describe, serial, act] as const;
  return {
    command: 'token <command>',
    describe: 'manage OATH tokens (secrets are never shown)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<TokenArgs>(
          'list',
          'list tokens',
          (y) => y.option('user', { type: 'string', requiresArg: true, describe: 'only this user’s tokens' }),
          (argv) =>
            withStore(argv, io, ({ config, store }) => {
              const tokens = store.tokens.list(argv.user === undefined ? undefined : { user: argv.user });
              // An empty list for a name that is nobody is a typo, not "no tokens" (SPEC: exit 1).
              if (argv.user !== undefined && tokens.length === 0) knownUser(config, store, argv.user);
              printRows(io, argv.json, tokens.map(tokenRow), LIST_COLUMNS);
            }),
        )
        .command<TokenArgs>(
          ...simple('show <serial>', 'show one token', (argv) =>
            withStore(argv, io, ({ store }) => {
              const t = found(store.tokens.get(argv.serial), argv.serial);
              const row: Row = { ...tokenRow(t), issuer: t.issuer, manufacturer: t.manufacturer, model: t.model, valid_from: isoTime(t.validFrom), valid_until: isoTime(t.validUntil), created: isoTime(t.createdAt) };
              if (argv.json) io.stdout(`${json(row)}\n`);
              else for (const [k, v] of Object.entries(row)) io.stdout(`${`${k}:`.padEnd(14)}${v === null ? '-' : shown(String(v))}\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          'assign <serial> <name>',
          'bind a token to a user (local or directory name)',
          (y) =>
            serial(y)
              .positional('name', { type: 'string', demandOption: true, describe: KNOWN_USER })
              .option('force', { type: 'boolean', describe: 'move the token when another user has it (else that is refused)' }),
          (argv) =>
            withStore(argv, io, ({ config, store }) => {
              const name = argv.name as string;
              knownUser(config, store, name);
              // A token is someone's second factor: a typo in SERIAL must not take it from them.
              const owner = found(store.tokens.get(argv.serial), argv.serial).user;
              const [s, n, o] = [shown(argv.serial), shown(name), shown(owner ?? '')];
              if (owner === name) io.stdout(`token ${s} is already assigned to ${n}\n`);
              else if (owner !== null && !argv.force) throw new CliError(`token ${s} is assigned to ${o}: to move it to ${n}, add --force`, 1);
              else {
                store.tokens.assign(argv.serial, name);
                io.stdout(owner === null ? `token ${s} assigned to ${n}\n` : `token ${s} moved from ${o} to ${n}\n`);
              }
            }),
        )
        .command<TokenArgs>(
          ...simple('unassign <serial>', 'unbind a token from its user', (argv) =>
            withStore(argv, io, ({ store }) => {
              found(store.tokens.assign(argv.serial, null), argv.serial);
              io.stdout(`token ${shown(argv.serial)} unassigned\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          ...simple('enable <serial>', 'allow a token', (argv) =>
            withStore(argv, io, ({ store }) => {
              found(store.tokens.setEnabled(argv.serial, true), argv.serial);
              io.stdout(`token ${shown(argv.serial)} enabled\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          ...simple('disable <serial>', 'refuse a token', (argv) =>
            withStore(argv, io, ({ store }) => {
              found(store.tokens.setEnabled(argv.serial, false), argv.serial);
              io.stdout(`token ${shown(argv.serial)} disabled\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          ...simple('delete <serial>', 'delete a token and its secret', (argv) =>
            withStore(argv, io, ({ store }) => {
              found(store.tokens.delete(argv.serial), argv.serial);
              io.stdout(`token ${shown(argv.serial)} deleted\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          ...simple('unlock <serial>', 'clear the failure counter of a locked token', (argv) =>
            withStore(argv, io, ({ store }) => {
              found(store.tokens.unlock(argv.serial), argv.serial);
              io.stdout(`token ${shown(argv.serial)} unlocked\n`);
            }),
          ),
        )
        .command<TokenArgs>(
          'resync <serial> <code1> <code2>',
          'find two consecutive codes within 1000 steps (or counts) and store the drift (or counter)',
          (y) =>
            serial(y)
              .positional('code1', { type: 'string', demandOption: true, describe: 'a code from the token' })
              .positional('code2', { type: 'string', demandOption: true, describe: 'the code it shows next' }),
          (argv) =>
            withStore(argv, io, ({ store }) => {
              const found_ = found(store.tokens.withSecret(argv.serial), argv.serial);
              const { token, secret } = found_;
              const [c1, c2] = [String(argv.code1), String(argv.code2)];
              if (!isCodeShape(c1, token.digits) || !isCodeShape(c2, token.digits)) {
                throw new CliError(`token ${shown(argv.serial)}: codes must be ${token.digits} digits`, 1);
              }
              if (token.type === 'totp') {
                const r = resyncTotp(token, secret, c1, c2, Date.now() / 1000, RESYNC_RANGE);
                if (r === null) throw new CliError(`token ${shown(argv.serial)}: the two codes are not consecutive codes within ${RESYNC_RANGE} steps`, 1);
                store.tokens.resync(token.id, { drift: r.drift, lastStep: Math.max(r.step, token.lastStep ?? r.step), counter: token.counter });
                io.stdout(`token ${shown(argv.serial)} resynchronised: drift ${r.drift} step(s) (${r.drift * token.period} s)\n`);
              } else {
                const r = resyncHotp(token, secret, c1, c2, RESYNC_RANGE);
                if (r === null) throw new CliError(`token ${shown(argv.serial)}: the two codes are not consecutive codes within ${RESYNC_RANGE} counts`, 1);
                store.tokens.resync(token.id, { drift: 0, lastStep: token.lastStep, counter: r.nextCounter });
                io.stdout(`token ${shown(argv.serial)} resynchronised: next counter ${r.nextCounter}\n`);
              }
            }),
        )
        .demandCommand(1, 'name a token command')
        .strict(),
    handler: commandGroup,
  };
}
