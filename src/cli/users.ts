/** `user add|passwd|delete|list|reset|enable|disable|group` — local users. */
import type { Argv, CommandModule } from 'yargs';
import { createArgon2Hasher } from '../auth/passwords.js';
import { CONTROL_CHARACTERS } from '../tokens/record.js';
import { withStore } from './context.js';
import { CliError, commandGroup, firstLine, quoted, shown, type GlobalArgs, type Io } from './io.js';
import { isoTime, printRows } from './output.js';

type UserArgs = GlobalArgs & { name: string; 'password-stdin'?: boolean; group?: string };

/** Names are what NASes send as User-Name: printable, no spaces at the ends, at most 253 bytes. */
export function checkUserName(name: string): string {
  if (name === '' || name !== name.trim() || Buffer.byteLength(name) > 253 || CONTROL_CHARACTERS.test(name)) {
    throw new CliError(`user name ${quoted(name)} is not valid: 1-253 bytes, no control characters or surrounding spaces`, 1);
  }
  return name;
}

/**
 * Local group names, as [[reply]] rules name them: any text (an LDAP DN has commas and spaces)
 * but not empty, no control characters, no spaces at the ends (rules ignore them, so `user
 * group-remove` would not find the group by the name a rule shows).
 */
export function checkGroupName(group: string): string {
  if (group.trim() === '' || group !== group.trim() || CONTROL_CHARACTERS.test(group)) {
    throw new CliError(`group name ${quoted(group)} is not valid: not empty, no control characters or surrounding spaces`, 1);
  }
  return group;
}

async function readPassword(io: Io): Promise<string> {
  const password = firstLine(await io.readStdin());
  if (password === '') throw new CliError('no password on standard input', 1);
  return password;
}

export function userCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  const name = (y: Argv<GlobalArgs>) => y.positional('name', { type: 'string', demandOption: true, describe: 'local user name' });
  const group = (y: Argv<GlobalArgs>) => name(y).positional('group', { type: 'string', demandOption: true, describe: 'group name, as [[reply]] rules give it (an LDAP DN is one name)' });
  const noUser = (n: string) => new CliError(`no user ${shown(n)}`, 1);
  const setEnabled = (enable: boolean) => (argv: UserArgs) =>
    withStore(argv, io, ({ store }) => {
      if (!store.users.setEnabled(argv.name, enable)) throw noUser(argv.name);
      io.stdout(`user ${shown(argv.name)} ${enable ? 'enabled' : 'disabled'}\n`);
    });
  return {
    command: 'user <command>',
    describe: 'manage local users',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<UserArgs>(
          'add <name>',
          'create a local user (password from stdin with --password-stdin)',
          (y) => name(y).option('password-stdin', { type: 'boolean', describe: 'read the password from standard input' }),
          async (argv) => {
            const name = checkUserName(argv.name);
            const hash = argv['password-stdin'] ? await (await createArgon2Hasher()).hash(await readPassword(io)) : null;
            await withStore(argv, io, ({ store }) => {
              if (!store.users.add(name, hash)) throw new CliError(`user ${name} already exists`, 1);
            });
            io.stdout(`user ${name} added${hash === null ? ' (no password)' : ''}\n`);
          },
        )
        .command<UserArgs>(
          'passwd <name>',
          'set a local user’s password from standard input',
          (y) => name(y).option('password-stdin', { type: 'boolean', demandOption: true, describe: 'read the password from standard input (required: never from the command line)' }),
          async (argv) => {
            const hash = await (await createArgon2Hasher()).hash(await readPassword(io));
            await withStore(argv, io, ({ store }) => {
              if (!store.users.setPassword(argv.name, hash)) throw noUser(argv.name);
            });
            io.stdout(`password of ${shown(argv.name)} changed\n`);
          },
        )
        .command<UserArgs>(
          'delete <name>',
          'delete a local user (their tokens are unassigned, app passwords revoked)',
          name,
          (argv) =>
            withStore(argv, io, ({ store }) => {
              if (!store.users.delete(argv.name)) throw noUser(argv.name);
              store.tokens.unassignAll(argv.name);
              store.appPasswords.revokeAll(argv.name);
              io.stdout(`user ${shown(argv.name)} deleted\n`);
            }),
        )
        .command<UserArgs>(
          'reset <name>',
          'unassign the user’s tokens, revoke app passwords and clear lockouts: the user enrolls again',
          (y) => y.positional('name', { type: 'string', demandOption: true, describe: 'user name (a directory user’s too)' }),
          (argv) =>
            withStore(argv, io, ({ store }) => {
              store.tokens.unlockAll(argv.name);
              const tokens = store.tokens.unassignAll(argv.name);
              const apps = store.appPasswords.revokeAll(argv.name);
              if (tokens === 0 && apps === 0 && !store.users.get(argv.name)) throw new CliError(`no user ${shown(argv.name)}, and no token or app password of that name`, 1);
              io.stdout(`user ${shown(argv.name)} reset: ${tokens} token(s) unassigned, ${apps} app password(s) revoked\n`);
            }),
        )
        .command<UserArgs>('enable <name>', 'allow a local user', name, setEnabled(true))
        .command<UserArgs>('disable <name>', 'refuse a local user (their app passwords too)', name, setEnabled(false))
        .command<UserArgs>(
          'group-add <name> <group>',
          'add a local user to a local group (used by [[reply]] rules)',
          group,
          (argv) =>
            withStore(argv, io, ({ store }) => {
              const g = checkGroupName(argv.group as string);
              if (!store.users.get(argv.name)) throw noUser(argv.name);
              store.users.addToGroup(argv.name, g);
              io.stdout(`${shown(argv.name)} is in group ${g}\n`);
            }),
        )
        .command<UserArgs>(
          'group-remove <name> <group>',
          'remove a local user from a local group',
          group,
          (argv) =>
            withStore(argv, io, ({ store }) => {
              // Not checked: a name refused today may be stored from before, and must be removable.
              const g = shown(argv.group as string);
              if (!store.users.get(argv.name)) throw noUser(argv.name);
              if (!store.users.removeFromGroup(argv.name, argv.group as string)) throw new CliError(`${shown(argv.name)} is not in group ${g}`, 1);
              io.stdout(`${shown(argv.name)} removed from group ${g}\n`);
            }),
        )
        .command<GlobalArgs>(
          'list',
          'list local users (a table shows one group per line; --json gives groups as an array)',
          (y) => y,
          (argv) =>
            withStore(argv, io, ({ store }) => {
              const rows = store.users.list().map((u) => ({
                name: u.name,
                password: u.hasPassword,
                enabled: u.enabled,
                groups: store.users.groups(u.name),
                tokens: store.tokens.list({ user: u.name }).length,
                created: isoTime(u.createdAt),
              }));
              printRows(io, argv.json, rows, ['name', 'password', 'enabled', 'groups', 'tokens', 'created']);
            }),
        )
        .demandCommand(1, 'name a user command')
        .strict(),
    handler: commandGroup,
  };
}
