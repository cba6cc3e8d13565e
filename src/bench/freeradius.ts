/**
 * FreeRADIUS as the bench's reference (issue #3: "FreeRADIUS 3.2 with rlm_totp does about 18,000
 * here … and about 24,000 with one worker thread"): Debian's freeradius, started in the
 * foreground on a configuration of its own, doing the code-only check the way rlm_totp does it,
 * under the same generators and placement as our server. The machine's speed swings from hour to
 * hour (±30 % and more), so a target set against FreeRADIUS "here" is only read well against
 * FreeRADIUS measured in the same run.
 *
 * What it does per request: `files` finds the user's TOTP-Secret (Base32, the bench's secret for
 * that user) in a users file of every bench user; rlm_totp compares the User-Password with the
 * code of the current step. FreeRADIUS 3.2.1's rlm_totp has no options: no ±1 step window, no
 * replay state (a code is accepted again), no lockout, nothing durable; so it does less than we
 * do, and codes of another step are rejected. Message-Authenticator is required from the client
 * and added to every reply (3.2.1 does not add one by itself). reject_delay is 0.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base32Encode } from '../tokens/base32.js';
import { tokenSecret, tokenUser } from './common.js';

export const FREERADIUS = '/usr/sbin/freeradius';

export const freeradiusInstalled = (): boolean => existsSync(FREERADIUS);

/** One worker thread (the issue's ~24,000/s), or Debian's default pool (5 to 32 threads, ~18,000/s). */
export type FreeradiusThreads = 'one' | 'default';

const POOLS: Record<FreeradiusThreads, string> = {
  one: 'start_servers = 1\n  max_servers = 1\n  min_spare_servers = 1\n  max_spare_servers = 1',
  default: 'start_servers = 5\n  max_servers = 32\n  min_spare_servers = 3\n  max_spare_servers = 10',
};

export interface FreeradiusSetup {
  port: number;
  secret: string;
  /** Users u0 … u(users-1), each with the bench's secret for that index. */
  users: number;
  threads: FreeradiusThreads;
}

/**
 * A raddb directory for `freeradius -d DIR`: radiusd.conf (one auth listener on 127.0.0.1, one
 * client, one virtual server), the users file, and an empty local dictionary.
 */
export function writeFreeradiusConfig(dir: string, s: FreeradiusSetup): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const users: string[] = [];
  for (let i = 0; i < s.users; i++) users.push(`${tokenUser(i)} TOTP-Secret := "${base32Encode(tokenSecret(i))}"\n`);
  writeFileSync(join(dir, 'users'), users.join(''), { mode: 0o600 });
  writeFileSync(join(dir, 'dictionary'), '', { mode: 0o600 });
  writeFileSync(
    join(dir, 'radiusd.conf'),
    `prefix = /usr
localstatedir = ${dir}
logdir = ${dir}
run_dir = ${dir}
raddbdir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/radiusd.pid
name = freeradius
max_request_time = 30
cleanup_delay = 5
max_requests = 1048576
hostname_lookups = no
log {
  destination = stdout
  auth = no
}
security {
  allow_core_dumps = no
  reject_delay = 0
  status_server = no
}
thread pool {
  ${POOLS[s.threads]}
  max_requests_per_server = 0
}
modules {
  files {
    filename = ${dir}/users
  }
  totp {
  }
}
client bench {
  ipaddr = 127.0.0.1
  secret = "${s.secret}"
  require_message_authenticator = yes
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${s.port}
  }
  authorize {
    files
    update request {
      &TOTP-Password := &User-Password
    }
    update control {
      &Auth-Type := totp
    }
  }
  authenticate {
    Auth-Type totp {
      totp
    }
  }
  post-auth {
    update reply {
      &Message-Authenticator := 0x00
    }
    Post-Auth-Type REJECT {
      update reply {
        &Message-Authenticator := 0x00
      }
    }
  }
}
`,
    { mode: 0o600 },
  );
}

/** What `freeradius -f -l stdout` prints once it answers requests. */
export const FREERADIUS_READY = 'Ready to process requests';
