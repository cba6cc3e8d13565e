/** `app-password create|list|revoke` — for clients that cannot do a second factor. */
import type { Argv, CommandModule } from 'yargs';
import { hashAppPassword, newAppPassword } from '../auth/app-passwords.js';
import { KNOWN_USER, knownUser, withStore } from './context.js';
import { CONTROL_CHARACTERS } from '../tokens/record.js';
import { CliError, commandGroup, json, quoted, shown, type GlobalArgs, type Io } from './io.js';
import { isoTime, printRows } from './output.js';

type AppArgs = GlobalArgs & { name: string; label?: string; id?: number; all?: boolean };

const MAX_LABEL_LENGTH = 100;

/** Why a label cannot be stored (words after it), or undefined: it is printed in every list. */
function labelProblem(label: string): string | undefined {
  if (CONTROL_CHARACTERS.test(label)) return 'contains control characters';
  if (label.length > MAX_LABEL_LENGTH) return `is longer than ${MAX_LABEL_LENGTH} characters`;
  return undefined;
}

export function appPasswordCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  const name = (y: Argv<GlobalArgs>) => y.positional('name', { type: 'string', demandOption: true, describe: KNOWN_USER });
  return {
    command: 'app-password <command>',
    describe: 'passwords for clients that cannot do a second factor (shown once)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<AppArgs>(
          'create <name>',
          'create an app password for a user and print it once',
          (y) =>
            name(y)
              .option('label', { type: 'string', default: '', requiresArg: true, describe: `what the password is for (e.g. the mail client), shown by list; up to ${MAX_LABEL_LENGTH} characters` })
              .check((a) => {
                const problem = labelProblem(a.label as string);
                if (problem !== undefined) throw new CliError(`--label ${quoted(a.label as string)} ${problem}`, 2);
                return true;
              }),
          (argv) =>
            withStore(argv, io, ({ config, store }) => {
              knownUser(config, store, argv.name);
              const password = newAppPassword();
              const created = store.appPasswords.create(argv.name, argv.label as string, hashAppPassword(password));
              if (argv.json) io.stdout(`${json({ id: created.id, user: argv.name, label: created.label, password })}\n`);
              else io.stdout(`app password ${created.id} for ${shown(argv.name)}: ${password}\n(shown only now: it is stored as a hash)\n`);
            }),
        )
        .command<AppArgs>(
          'list <name>',
          'list a user’s app passwords (never the passwords)',
          name,
          (argv) =>
            withStore(argv, io, ({ config, store }) => {
              const listed = store.appPasswords.list(argv.name);
              // An empty list for a name that is nobody is a typo, not "no app passwords" (SPEC: exit 1).
              if (listed.length === 0) knownUser(config, store, argv.name);
              const rows = listed.map((a) => ({ id: a.id, label: a.label, created: isoTime(a.createdAt), last_used: isoTime(a.lastUsedAt) }));
              printRows(io, argv.json, rows, ['id', 'label', 'created', 'last_used']);
            }),
        )
        .command<AppArgs>(
          'revoke <name> [id]',
          'revoke one app password by id, or --all',
          (y) =>
            name(y)
              .positional('id', { type: 'number', describe: 'the app password’s id (app-password list)' })
              .option('all', { type: 'boolean', describe: 'revoke all the user’s app passwords' })
              .check((a) => {
                if (a.id === undefined && !a.all) throw new CliError('give an app password ID or --all', 2);
                if (a.id !== undefined && a.all) throw new CliError('give an app password ID or --all, not both', 2);
                return true;
              }),
          (argv) =>
            withStore(argv, io, ({ store }) => {
              if (argv.all) {
                io.stdout(`${store.appPasswords.revokeAll(argv.name)} app password(s) of ${shown(argv.name)} revoked\n`);
                return;
              }
              if (!store.appPasswords.revoke(argv.name, argv.id as number)) throw new CliError(`${shown(argv.name)} has no app password ${argv.id}`, 1);
              io.stdout(`app password ${argv.id} of ${shown(argv.name)} revoked\n`);
            }),
        )
        .demandCommand(1, 'name an app-password command')
        .strict(),
    handler: commandGroup,
  };
}
