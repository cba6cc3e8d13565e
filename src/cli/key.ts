/** `key rotate` — every token secret sealed again under a new master key (RELIABILITY S3). */
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { rotateKey } from '../store/rotate-key.js';
import { keyIdHex } from '../store/seal.js';
import { loadCliConfig } from './context.js';
import { CliError, commandGroup, json, type GlobalArgs, type Io } from './io.js';

export function keyCommands(io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'key <command>',
    describe: 'the master key that seals token secrets (store.key_file)',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .command<GlobalArgs>(
          'rotate',
          'seal every token secret again under a new master key; the previous key is kept as KEY_FILE.<key id> for older backups',
          (y) => y,
          (argv) => {
            const { config } = loadCliConfig(argv);
            if (!existsSync(config.store.path)) throw new CliError(`no store at ${config.store.path}: nothing to rotate`, 1);
            const r = rotateKey(config);
            if (argv.json) {
              io.stdout(`${json({ tokens: r.tokens, key_file: config.store.key_file, key_id: keyIdHex(r.keyId), previous_key_file: r.previousKeyFile, previous_key_id: keyIdHex(r.previousKeyId) })}\n`);
              return;
            }
            io.stdout(
              `${r.tokens} token secret(s) sealed again under a new master key in ${config.store.key_file} (key id ${keyIdHex(r.keyId)})\n` +
                `the previous key (id ${keyIdHex(r.previousKeyId)}) is in ${r.previousKeyFile}: backups of the store made before now open only with it; ` +
                'keep it with them, apart from the store, or delete it if it was exposed\n',
            );
          },
        )
        .demandCommand(1, 'name a key command')
        .strict(),
    handler: commandGroup,
  };
}
