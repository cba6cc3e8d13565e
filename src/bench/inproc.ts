/**
 * The code-only request path without sockets: RequestHandler + Pipeline + the SQLite store in this
 * process, fed encoded datagrams 16 at a time (so group commit batches as it would under load).
 * CPU time per request, best of several batches: on a machine shared with other work this is the
 * steadiest figure of what one request costs; 1e6 / it is the rate one core could give before
 * the UDP syscalls (about 10 % of the server's profile) are added.
 */
import { randomBytes } from 'node:crypto';
import { nullAuditSink } from '../audit/audit-log.js';
import { Metrics } from '../audit/metrics.js';
import { LocalPrimary } from '../auth/local.js';
import { createArgon2Hasher } from '../auth/passwords.js';
import { Pipeline } from '../auth/pipeline.js';
import { ClientTable } from '../server/clients.js';
import { DuplicateCache } from '../server/dedup.js';
import { RequestHandler, type Peer } from '../server/handler.js';
import { openStore } from '../store/open.js';
import { encodeAccessRequest } from '../radius/request-encode.js';
import { codeFor, stepNow, tokenUser } from './common.js';
import { CLIENT_SECRET, instance, type Template } from './fixture.js';

export interface InprocResult {
  /** Best (lowest) CPU µs per request over the batches, and the median. */
  bestUs: number;
  medianUs: number;
  accepted: number;
  requests: number;
}

export async function benchInproc(t: Template, batches = 7, perBatch = 4000): Promise<InprocResult> {
  const { dir } = instance(t, 'inproc', { primary: 'none', audit: false });
  const store = openStore({ store: { path: `${dir}/radius-otp.db`, key_file: `${dir}/master.key`, synchronous: t.synchronous } }, () => undefined);
  try {
    const hasher = await createArgon2Hasher(1);
    const pipeline = new Pipeline({
      users: store.users,
      tokens: store.tokens,
      challenges: store.challenges,
      appPasswords: store.appPasswords,
      primaries: { local: new LocalPrimary(store.users, hasher) },
      policy: {
        usersWithoutToken: 'password-only',
        challengeTimeout: 300,
        challengeMessage: 'Enter your one-time code',
        otp: { window: 1, hotpLookAhead: 10, maxFailures: 10, unlockAfter: 0 },
      },
      now: () => Date.now() / 1000,
      random: randomBytes,
    });
    const clients = new ClientTable([{ name: 'bench', address: '127.0.0.1', secret: CLIENT_SECRET, require_message_authenticator: 'yes', primary: 'none' }], { primary: 'none', requireMessageAuthenticator: 'yes' });
    const handler = new RequestHandler({
      clients: () => clients,
      dedup: new DuplicateCache(30_000),
      decider: pipeline,
      replyAttributes: () => [],
      audit: nullAuditSink(),
      metrics: new Metrics(),
      onDrop: () => undefined,
      onBadRequest: () => undefined,
      onMaDecided: () => undefined,
      onError: () => undefined,
      server: { name: 'bench' },
      limits: { maxPending: 4096, maxPendingPerClient: 1024 },
      now: () => Date.now(),
    });
    // As the server does before it listens (app.ts): the batches measure a loaded mirror.
    await store.tokens.mirrorLoaded();
    const secret = Buffer.from(CLIENT_SECRET, 'utf8');
    const perUs: number[] = [];
    let accepted = 0;
    let user = 0;
    for (let b = 0; b < batches; b++) {
      const step = stepNow();
      const datagrams: Buffer[] = [];
      for (let k = 0; k < perBatch; k++, user = (user + 1) % t.tokens) {
        datagrams.push(
          encodeAccessRequest({ identifier: k & 0xff, authenticator: randomBytes(16), secret, userName: tokenUser(user), password: codeFor(user, step), nasIdentifier: 'bench-nas' }),
        );
      }
      const cpu0 = process.cpuUsage();
      for (let k = 0; k < perBatch; k += 16) {
        const replies = await Promise.all(
          datagrams.slice(k, k + 16).map((d, j) => handler.handle(d, { address: '127.0.0.1', port: 10_000 + ((k + j) % 50_000), socket: 0, localAddress: '127.0.0.1' } satisfies Peer)),
        );
        for (const r of replies) if (r?.[0] === 2) accepted++;
      }
      const cpu = process.cpuUsage(cpu0);
      perUs.push((cpu.user + cpu.system) / perBatch);
    }
    const sorted = [...perUs].sort((a, b) => a - b);
    return { bestUs: sorted[0] as number, medianUs: sorted[Math.floor(sorted.length / 2)] as number, accepted, requests: batches * perBatch };
  } finally {
    store.close();
  }
}
