/**
 * A throwaway OpenLDAP server for tests: temp directory, mdb backend, memberof overlay,
 * ldap:// and ldaps:// on free loopback ports, loaded from test/fixtures/ldap/directory.ldif.
 * Needs Debian's slapd and ldap-utils (ldapadd) and openssl (test CA + server certificate).
 *
 * Data is added online with ldapadd (not slapadd) so that the memberof overlay fills memberOf.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Config } from '../../src/config/schema.js';

const run = promisify(execFile);

const SLAPD = '/usr/sbin/slapd';
const FIXTURE = fileURLToPath(new URL('../fixtures/ldap/directory.ldif', import.meta.url));

export const BASE_DN = 'dc=example,dc=com';
const ROOT_DN = 'cn=admin,dc=example,dc=com';
const ROOT_PW = 'root-secret';

export interface Slapd {
  /** ldap://127.0.0.1:PORT */
  url: string;
  port: number;
  /** ldaps://127.0.0.1:PORT (certificate for IP 127.0.0.1 and DNS localhost, signed by caFile) */
  ldapsUrl: string;
  ldapsPort: number;
  /** PEM file of the test CA that signed the server certificate */
  caFile: string;
  baseDn: string;
  /** the service account (read access to the tree) */
  bindDn: string;
  bindPassword: string;
  /** users and their passwords in the fixture */
  users: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export const USERS: Readonly<Record<string, string>> = {
  alice: 'alice-pass-1',
  bob: 'bob-pass-2',
  carol: 'carol-pass-3',
  'star*user': 'star-pass-4',
  'paren)user': 'paren-pass-5',
  'jürgen': 'juergen-pass-6',
};

/** A loopback TCP port that was free a moment ago (nothing listens on it when returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2',
    '-subj', '/CN=radius-otp test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=localhost']);
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext,
  ]);
  return { ca, cert, key };
}

function slapdConf(dir: string, tls: { cert: string; key: string }): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile ${join(dir, 'slapd.pid')}
argsfile ${join(dir, 'slapd.args')}
TLSCertificateFile ${tls.cert}
TLSCertificateKeyFile ${tls.key}

database mdb
maxsize 16777216
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PW}
directory ${join(dir, 'db')}
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to attrs=entry,objectClass,uid,mail,cn by * read
access to * by dn.exact="cn=radius,ou=Service,${BASE_DN}" read by self read by * none
`;
}

async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(dir: string, tls: { cert: string; key: string }): Promise<{ child: ChildProcess; port: number; ldapsPort: number }> {
  const port = await freePort();
  const ldapsPort = await freePort();
  const child = spawn(SLAPD, ['-f', join(dir, 'slapd.conf'), '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/`, '-d', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
    if ((await canConnect(port)) && (await canConnect(ldapsPort))) return { child, port, ldapsPort };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await waitForExit(child);
  throw new Error(`slapd did not start listening: ${stderr.slice(-2000)}`);
}

export async function startSlapd(): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'radius-otp-slapd-'));
  try {
    const tls = await makeCertificates(dir);
    await run('mkdir', ['-p', join(dir, 'db')]);
    await writeFile(join(dir, 'slapd.conf'), slapdConf(dir, tls));
    await writeFile(join(dir, 'root.pw'), ROOT_PW, { mode: 0o600 });

    // The ports are picked free, but another process may grab one before slapd binds it: retry.
    let started: Awaited<ReturnType<typeof startOnce>> | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 5 && started === undefined; attempt++) {
      try {
        started = await startOnce(dir, tls);
      } catch (err) {
        lastError = err;
      }
    }
    if (started === undefined) throw lastError;
    const { child, port, ldapsPort } = started;
    const url = `ldap://127.0.0.1:${port}`;

    try {
      await run('ldapadd', ['-x', '-H', url, '-D', ROOT_DN, '-y', join(dir, 'root.pw'), '-f', FIXTURE]);
    } catch (err) {
      child.kill('SIGKILL');
      await waitForExit(child);
      throw err;
    }

    let stopped = false;
    return {
      url,
      port,
      ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`,
      ldapsPort,
      caFile: tls.ca,
      baseDn: BASE_DN,
      bindDn: `cn=radius,ou=Service,${BASE_DN}`,
      bindPassword: 'service-secret',
      users: USERS,
      async stop() {
        if (stopped) return;
        stopped = true;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await waitForExit(child);
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** [ldap] for this directory as the schema's defaults fill it (the schema itself is not loaded). */
export function ldapConfig(slapd: Slapd, over: Partial<Config['ldap']> = {}): Config['ldap'] {
  return {
    urls: [slapd.url],
    bind_dn: slapd.bindDn,
    bind_password: slapd.bindPassword,
    bind_password_file: '',
    base_dn: slapd.baseDn,
    user_filter: '(uid={user})',
    group_attribute: 'memberOf',
    starttls: false,
    ca_file: '',
    timeout: 2,
    ...over,
  };
}
