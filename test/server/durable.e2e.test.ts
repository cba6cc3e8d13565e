/**
 * store.synchronous over loopback with radclient and oathtool: with "full" the server syncs the
 * WAL after the commit that accepted a code (store/sqlite/wal-sync.ts), so an OS crash cannot
 * undo it; with "normal" (the default) it does not. The sync is seen as the server's read-only
 * descriptor of its WAL file (SQLite's own are read-write).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { totpRecord } from '../helpers/store.js';
import { radclient } from '../helpers/radclient.js';
import { totpCode } from '../helpers/oathtool.js';
import { startTestServer } from '../helpers/server.js';

const KEY = Buffer.from('3132333435363738393031323334353637383930', 'hex');
const NOW = 2_000_000_000;

/** This process's read-only descriptors of `path` (/proc/self/fdinfo flags: access mode 0). */
function readOnlyFds(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own descriptor)
    }
    if (target !== path) continue;
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) n++;
  }
  return n;
}

for (const [store, syncs] of [['synchronous = "full"', true], ['', false]] as const) {
  t.test(`store.synchronous ${store === '' ? 'default ("normal")' : '"full"'}: an Accept ${syncs ? 'after' : 'without'} a sync of the WAL`, async (t) => {
    const s = await startTestServer({ now: () => NOW, store, extra: '[auth]\nprimary = "none"\n' });
    t.teardown(() => s.stop());
    s.server.store.tokens.importMany([totpRecord('T1', { user: 'alice', secret: KEY })], { replace: false, createUsers: true });
    const wal = join(s.dir, 'radius-otp.db-wal');
    t.equal(readOnlyFds(wal), 0, 'nothing synced before a decision wrote');
    const code = totpCode(KEY.toString('hex'), NOW);
    const ok = await radclient(s.v4, 'testing123', `User-Name = "alice", User-Password = "${code}", NAS-Identifier = "vpn", Message-Authenticator = 0x00`);
    t.equal(ok.reply, 'Access-Accept', ok.stdout);
    t.equal(readOnlyFds(wal), syncs ? 1 : 0);
    const again = await radclient(s.v4, 'testing123', `User-Name = "alice", User-Password = "${code}", NAS-Identifier = "vpn", Message-Authenticator = 0x00`);
    t.equal(again.reply, 'Access-Reject', 'the code is used');
  });
}
