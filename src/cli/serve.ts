/** `serve` — the RADIUS server in the foreground. SIGHUP reloads; SIGTERM/SIGINT stop cleanly. */
import type { CommandModule } from 'yargs';
import { createLogger } from '../audit/logger.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { startServer, type RunningServer } from '../server/app.js';
import { SCHED_OTHER, setIdlePolicy, threadsOf } from '../sched/idle-policy.js';
import { loadCliConfig } from './context.js';
import { CliError, type GlobalArgs, type Io } from './io.js';

/** Secrets a log line must never show, whatever path it took. */
const secretsOf = (c: Config): string[] => [...c.client.map((x) => x.secret), c.ldap.bind_password].filter((s) => s !== '');

export function serveCommand(io: Io, signals: NodeJS.EventEmitter = process): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'serve',
    describe: 'run the RADIUS server in the foreground',
    handler: async (argv) => {
      const { config, file } = loadCliConfig(argv);
      let current = config;
      const logger = createLogger({ level: config.log.level, knownSecrets: () => secretsOf(current) });
      // Node's helpers, which bin/radius-otp lowered to nice 19, before the server starts threads
      // of its own (the hash workers lower themselves, and must not go idle: logins wait on them).
      const helpers = threadsOf().filter((th) => th.tid !== process.pid && th.nice === 19 && th.policy === SCHED_OTHER);
      let server: RunningServer;
      /** Why the server stopped by itself (startServer's onFatal): serve then exits 1. */
      let fatal: Error | undefined;
      /** Stops once: unset before the server runs and once it stops. */
      let stopNow: (() => void) | undefined;
      try {
        const onFatal = (err: Error): void => {
          fatal ??= err;
          stopNow?.();
        };
        server = await startServer(config, { logger, configFile: file, idlePolicy: true, onFatal });
      } catch (err) {
        logger.end();
        throw new CliError(`cannot start: ${(err as Error).message}`, 1);
      }
      const idle = helpers.filter((th) => setIdlePolicy(th.tid)).length;
      logger.debug('helper threads under SCHED_IDLE', { threads: idle, of: helpers.length });
      io.stdout(`radius-otp listening on ${server.sockets.map((s) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`)).join(', ')}\n`);
      await new Promise<void>((resolve) => {
        const reload = (): void => {
          try {
            const next = loadConfig(file);
            server.reload(next);
            current = next;
          } catch (err) {
            logger.error('reload refused; the running configuration stays', { error: (err as Error).message });
          }
        };
        const stop = (): void => {
          stopNow = undefined;
          signals.off('SIGHUP', reload);
          signals.off('SIGTERM', stop);
          signals.off('SIGINT', stop);
          void server.stop().then(resolve);
        };
        stopNow = stop;
        signals.on('SIGHUP', reload);
        signals.on('SIGTERM', stop);
        signals.on('SIGINT', stop);
        // A sync that failed while the server was still starting (it answers from its first socket).
        if (fatal !== undefined) stop();
      });
      await new Promise<void>((resolve) => {
        logger.on('finish', resolve);
        logger.end();
      });
      if (fatal !== undefined) throw new CliError(`stopped: ${fatal.message}`, 1);
    },
  };
}
