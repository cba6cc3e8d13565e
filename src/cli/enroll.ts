/** `enroll NAME` — a new software TOTP token; the secret is shown this once, as URI and QR code. */
import { randomBytes } from 'node:crypto';
import type { CommandModule } from 'yargs';
import { newSecret, otpauthUri, renderQr } from '../otp/uri.js';
import type { TokenRecord } from '../tokens/record.js';
import { knownUser, withStore } from './context.js';
import type { GlobalArgs, Io } from './io.js';

type EnrollArgs = GlobalArgs & { name: string; serial?: string };

export function enrollCommand(io: Io): CommandModule<GlobalArgs, EnrollArgs> {
  return {
    command: 'enroll <name>',
    describe: 'create a software TOTP token for a user; print the otpauth:// URI and a QR code',
    builder: (y) =>
      y
        .positional('name', { type: 'string', demandOption: true })
        .option('serial', { type: 'string', requiresArg: true, describe: 'serial for the new token (default: a random SW… serial)' }) as never,
    handler: (argv) =>
      withStore(argv, async ({ config, store }) => {
        knownUser(config, store, argv.name);
        const secret = newSecret(20);
        const serial = argv.serial ?? `SW${randomBytes(5).toString('hex').toUpperCase()}`;
        const record: TokenRecord = { serial, type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, t0: 0, counter: 0, drift: 0, secret };
        store.tokens.importMany([record], { replace: false, createUsers: false });
        store.tokens.assign(serial, argv.name);
        const uri = otpauthUri({ issuer: config.otp.issuer, account: argv.name, secret, algorithm: 'SHA1', digits: 6, period: 30, type: 'totp' });
        if (argv.json) {
          io.stdout(`${JSON.stringify({ serial, user: argv.name, uri })}\n`);
        } else {
          io.stdout(`token ${serial} enrolled for ${argv.name}. Scan this with an authenticator app (shown only now):\n\n`);
          io.stdout(`${await renderQr(uri)}\n${uri}\n`);
        }
        secret.fill(0);
      }),
  };
}
