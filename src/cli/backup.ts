/**
 * `backup FILE` — a consistent copy of the store while the server runs (SQLite's online backup:
 * a plain cp of the database can miss commits still in its WAL, and a restored copy would then
 * accept a code again). The copy holds password hashes and sealed secrets: created 0600. The
 * master key is not in it; it is backed up apart (store.key_file).
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { openStore, pendingRotation } from '../store/open.js';
import { withStoreReadOnly } from './context.js';
import { CliError, json, type GlobalArgs, type Io } from './io.js';

type BackupArgs = GlobalArgs & { file: string };

export function backupCommand(io: Io): CommandModule<GlobalArgs, BackupArgs> {
  return {
    command: 'backup <file>',
    describe: 'copy the store, consistent while the server runs, to a new file (0600); back up store.key_file apart',
    builder: (y) => y.positional('file', { type: 'string', demandOption: true, describe: 'the copy to create (must not exist)' }) as never,
    handler: (argv) =>
      withStoreReadOnly(argv, async ({ config, store }) => {
        if (store === undefined) throw new CliError(`no store at ${config.store.path} to back up`, 1);
        // A key rotation interrupted between its commit and its rename: finished first (it is
        // the key file, once renamed, that opens this copy's secrets; store/rotate-key.ts).
        if (pendingRotation(store, config.store.key_file) !== null) {
          openStore(config, () => {}, (notice) => io.stderr(`radius-otp: ${notice}\n`)).close();
          // Not finished (a rotation holds the store meanwhile): the copy is made all the same.
          const still = pendingRotation(store, config.store.key_file);
          if (still !== null) io.stderr(`radius-otp: a key rotation is unfinished: this copy opens only with ${still.file}\n`);
        }
        if (existsSync(argv.file)) throw new CliError(`${argv.file} exists: give a new file`, 1);
        try {
          // Created empty and 0600 first: the copy never exists with a wider mode.
          closeSync(openSync(argv.file, 'wx', 0o600));
          await store.db.backup(argv.file);
          chmodSync(argv.file, 0o600);
        } catch (err) {
          throw new CliError(`backup to ${argv.file} failed: ${(err as Error).message}`, 1);
        }
        const tokens = store.tokens.list().length;
        if (argv.json) io.stdout(`${json({ file: argv.file, tokens, key_file: config.store.key_file })}\n`);
        else io.stdout(`store copied to ${argv.file} (${tokens} tokens); the token secrets in it open only with ${config.store.key_file}: back that up too, kept apart\n`);
      }),
  };
}
