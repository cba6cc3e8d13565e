/** `client list` — the configured NAS clients and what their Message-Authenticator policy is now. */
import type { Argv, CommandModule } from 'yargs';
import { clientDefaults, configuredMa } from '../server/clients.js';
import { withStoreReadOnly } from './context.js';
import { commandGroup, type GlobalArgs, type Io } from './io.js';
import { isoTime, printRows } from './output.js';

export function clientCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'client <command>',
    describe: 'the NAS clients of the config file (never their secrets)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<GlobalArgs>(
          'list',
          'list clients with their effective require_message_authenticator (RELIABILITY B1/B8)',
          (y) => y,
          (argv) =>
            // Read-only: a listing creates no store or key file and takes no write lock.
            withStoreReadOnly(argv, ({ config, store }) => {
              // An auto client is decided by its first request to the running server of this
              // config's server.name, which records it; until then, and after a restart, it is undecided.
              const decided = new Map((store?.clientMa.list(config.server.name) ?? []).map((d) => [d.client, d]));
              const defaults = clientDefaults(config);
              const rows = config.client.map((c) => {
                const configured = configuredMa(c, defaults);
                const d = configured === 'auto' ? decided.get(c.name) : undefined;
                return {
                  name: c.name,
                  address: c.address,
                  primary: c.primary ?? defaults.primary,
                  require_message_authenticator: configured,
                  effective: configured !== 'auto' ? configured : (d?.ma ?? 'undecided'),
                  decided_at: isoTime(d?.decidedAt ?? null),
                };
              });
              printRows(io, argv.json, rows, ['name', 'address', 'primary', 'require_message_authenticator', 'effective', 'decided_at']);
            }),
        )
        .demandCommand(1, 'name a client command')
        .strict(),
    handler: commandGroup,
  };
}
