/** `enroll NAME` — a new software TOTP token; the secret is shown this once, as URI and QR code. */
import { randomBytes } from 'node:crypto';
import type { CommandModule } from 'yargs';
import { newSecret, otpauthUri, renderQr } from '../otp/uri.js';
import { serialProblem, type TokenRecord } from '../tokens/record.js';
import { KNOWN_USER, knownUser, withStore } from './context.js';
import { CliError, json, quoted, shown, type GlobalArgs, type Io } from './io.js';

type EnrollArgs = GlobalArgs & { name: string; serial?: string };

export function enrollCommand(io: Io): CommandModule<GlobalArgs, EnrollArgs> {
  return {
    command: 'enroll <name>',
    describe: 'create a software TOTP token for a user; print the otpauth:// URI and a QR code',
    builder: (y) =>
      y
        .positional('name', { type: 'string', demandOption: true, describe: KNOWN_USER })
        .option('serial', { type: 'string', requiresArg: true, describe: 'serial for the new token (default: a random SW… serial)' }) as never,
    handler: (argv) => {
      const problem = argv.serial === undefined ? undefined : serialProblem(argv.serial);
      if (problem !== undefined) throw new CliError(`--serial ${quoted(argv.serial as string)} ${problem}`, 1);
      return withStore(argv, io, async ({ config, store }) => {
        knownUser(config, store, argv.name);
        const serial = argv.serial ?? `SW${randomBytes(5).toString('hex').toUpperCase()}`;
        // enroll never replaces a token (import --replace does): the serial must be new.
        if (store.tokens.get(serial) !== undefined) throw new CliError(`token ${serial} already exists: choose another --serial, or delete that token first`, 1);
        const secret = newSecret(20);
        const record: TokenRecord = { serial, type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0, counter: 0, drift: 0, secret };
        store.tokens.importMany([record], { replace: false, createUsers: false });
        store.tokens.assign(serial, argv.name);
        const uri = otpauthUri({ issuer: config.otp.issuer, account: argv.name, secret, algorithm: 'SHA1', digits: 6, period: 30, type: 'totp' });
        if (argv.json) {
          io.stdout(`${json({ serial, user: argv.name, uri })}\n`);
        } else {
          io.stdout(`token ${serial} enrolled for ${shown(argv.name)}. Scan this with an authenticator app (shown only now):\n\n`);
          io.stdout(`${await renderQr(uri)}\n${uri}\n`);
        }
        secret.fill(0);
      });
    },
  };
}
