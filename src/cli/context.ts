/** What commands share: the config named by --config / $RADIUS_OTP_CONFIG, and the store. */
import { ConfigError } from '../config/errors.js';
import { configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openStore, openStoreReadOnly } from '../store/open.js';
import type { SqliteStore } from '../store/sqlite/open.js';
import type { Store } from '../store/types.js';
import { CliError, shown, type GlobalArgs, type Io } from './io.js';

export function loadCliConfig(argv: GlobalArgs): { config: Config; file: string } {
  if (argv.config === '') throw new CliError('--config needs a file name', 2);
  const file = configPath(argv.config);
  try {
    return { config: loadConfig(file), file };
  } catch (err) {
    // loadConfig throws ConfigError, whose message names file, line and key.
    throw new CliError((err as ConfigError).message, 1);
  }
}

async function inStore<S extends Store | undefined, T>(
  argv: GlobalArgs,
  open: (config: Config) => S,
  fn: (ctx: { config: Config; store: S; file: string }) => Promise<T> | T,
): Promise<T> {
  const { config, file } = loadCliConfig(argv);
  const store = open(config);
  try {
    return await fn({ config, store, file });
  } finally {
    store?.close();
  }
}

export function withStore<T>(argv: GlobalArgs, io: Io, fn: (ctx: { config: Config; store: Store; file: string }) => Promise<T> | T): Promise<T> {
  // A secret that fails to unseal comes back as "no such token secret"; the command says so. An
  // interrupted key rotation that opening the store finished is said on stderr, as serve logs it.
  return inStore(argv, (config) => openStore(config, () => {}, (notice) => io.stderr(`radius-otp: ${notice}\n`)), fn);
}

/** The store read-only, creating nothing (store/open.ts openStoreReadOnly): undefined when there is none yet. */
export function withStoreReadOnly<T>(argv: GlobalArgs, fn: (ctx: { config: Config; store: SqliteStore | undefined; file: string }) => Promise<T> | T): Promise<T> {
  return inStore(argv, openStoreReadOnly, fn);
}

/** How --help describes a NAME that knownUser checks. */
export const KNOWN_USER = 'user name (local, or the directory’s with [ldap])';

/**
 * SPEC: an unknown user is a refused operation. A name that is no local user is taken only when
 * a directory is configured ([ldap] urls): tokens and app passwords of directory users are bound
 * to their directory name, which the CLI cannot look up. Without one, it is a typo.
 */
export function knownUser(config: Config, store: Store, name: string): void {
  if (store.users.get(name) !== undefined || config.ldap.urls.length > 0) return;
  throw new CliError(`no user ${shown(name)} (add it with 'user add', or configure [ldap] for directory users)`, 1);
}
