/** Runs Debian's radclient (freeradius-utils) against a test server over loopback. */
import { execFile } from 'node:child_process';

export interface RadclientResult {
  /** "Access-Accept", "Access-Reject", "Access-Challenge", or null when nothing (valid) came back. */
  reply: string | null;
  /** Attributes of the reply in the order radclient printed them: [name, value]. */
  attributes: Array<[string, string]>;
  stdout: string;
  stderr: string;
}

/**
 * One request; the reply waits up to `timeout` seconds (15 by default: an argon2id check took over
 * 5 s on a loaded 2-core CI machine). Tests that expect no reply pass a short timeout.
 */
export function radclient(
  target: { host: string; port: number },
  secret: string,
  attributes: string,
  opts: { command?: 'auth' | 'status'; timeout?: number; retries?: number } = {},
): Promise<RadclientResult> {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const args = ['-x', '-r', String(opts.retries ?? 1), '-t', String(opts.timeout ?? 15), `${host}:${target.port}`, opts.command ?? 'auth', secret];
  return new Promise((resolve, reject) => {
    const child = execFile('radclient', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error('radclient is not installed (apt-get install freeradius-utils)'));
      const m = /^Received (\S+) Id/m.exec(stdout);
      const after = m ? stdout.slice((m.index as number) + m[0].length) : '';
      const attrs: Array<[string, string]> = [];
      for (const line of after.split('\n').slice(1)) {
        const a = /^\s+([A-Za-z0-9-]+) = (.*)$/.exec(line);
        if (!a) break;
        attrs.push([a[1] as string, a[2] as string]);
      }
      resolve({ reply: m ? (m[1] as string) : null, attributes: attrs, stdout, stderr });
    });
    child.stdin?.end(attributes);
  });
}
