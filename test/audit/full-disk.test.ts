/**
 * The audit file on a disk that fills up (here this process's file size limit, which cuts a write
 * short and fails the next as a full disk does): the server keeps answering, counts the lines it
 * lost in radius_audit_lines_lost_total, says so on stderr, and writes again once there is room,
 * its next record on a line of its own (found by the operations audit: a short write killed it).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import winston from 'winston';
import { auditFileNames } from '../../src/audit/files.js';
import { buildReport } from '../../src/audit/report/run.js';
import { parseConfig } from '../../src/config/load.js';
import { Code } from '../../src/radius/codes.js';
import { encodeAccessRequest } from '../../src/radius/request-encode.js';
import { startServer } from '../../src/server/app.js';
import { limitFileSize } from '../helpers/fsize.js';
import { SECRET, testConfig } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { UdpClient } from '../helpers/udp-client.js';

t.test('audit file full: requests still answered, lost lines counted and said, lines again once there is room', async (t) => {
  const dir = tempDir('radius-otp-full-');
  const audit = join(dir, 'logs', 'audit.log');
  const dated = auditFileNames(audit).forDate(new Date().toISOString().slice(0, 10));
  // 2.6 MB of older lines, so that the limit below leaves the store's files (far smaller) alone.
  mkdirSync(join(dir, 'logs'));
  const old = '{"event":"drop","time":"2026-01-01T00:00:00.000Z","server":"s","server_ip":"127.0.0.1","client":"","client_ip":"192.0.2.9","reason":"unknown-client"}\n';
  writeFileSync(dated, old.repeat(20_000));
  const configFile = join(dir, 'radius.conf');
  const text = testConfig(dir, '[metrics]\nlisten = "127.0.0.1:0"\n', ['127.0.0.1:0']).replace('audit = ""', `audit = "${audit}"`);
  writeFileSync(configFile, text);

  const stderr: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  t.teardown(() => void (process.stderr.write = write));
  const server = await startServer(parseConfig(text, configFile), { logger: winston.createLogger({ silent: true }), configFile });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : server.stop()));
  const target = { host: '127.0.0.1', port: server.sockets[0]!.port };
  const client = await UdpClient.open();
  t.teardown(() => client.close());
  const ask = async (i: number): Promise<number | undefined> => {
    const packet = encodeAccessRequest({ identifier: i, authenticator: randomBytes(16), secret: Buffer.from(SECRET), userName: `nobody${i}`, password: 'x', nasIdentifier: 'nas' });
    return (await client.exchange(packet, target))?.[0];
  };
  const lostMetric = async (): Promise<number> => {
    const body = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    return Number(/\nradius_audit_lines_lost_total (\d+)\n/.exec(body)?.[1]);
  };

  t.equal(await ask(0), Code.AccessReject);
  t.equal(await lostMetric(), 0);
  const restore = limitFileSize(t, statSync(dated).size + 100);
  // The first is cut short after 100 bytes, the next ones find no room at all.
  for (let i = 1; i <= 6; i++) t.equal(await ask(i), Code.AccessReject, `request ${i} answered`);
  t.equal(await lostMetric(), 6, 'each lost line counted');
  restore();
  t.equal(await ask(7), Code.AccessReject);
  await server.stop();
  stopped = true;
  process.stderr.write = write;

  const faults = stderr.filter((l) => l !== '').map((l) => JSON.parse(l) as { level: string; message: string; lines_lost?: number });
  t.equal(faults[0]?.message, `audit log: EFBIG: file too large, write '${dated}'`);
  t.equal(faults[0]?.lines_lost, 1, 'the first said at once');
  t.equal(faults.reduce((n, f) => n + (f.lines_lost ?? 0), 0), 6, 'the rest said within a second, or at stop');
  t.ok(faults.every((f) => f.level === 'error' && f.message.startsWith('audit log: EFBIG')));
  const tail = readFileSync(dated, 'utf8').split('\n').slice(-4);
  t.match(JSON.parse(tail[0]!), { event: 'decision', user: 'nobody0' });
  t.equal(tail[1]!.length, 100, 'the cut line, a line of its own');
  t.match(JSON.parse(tail[2]!), { event: 'decision', user: 'nobody7' }, 'the next record whole');
  const report = await buildReport({ file: audit, since: new Date(Date.now() - 3_600_000), until: new Date(Date.now() + 60_000), by: 'result' });
  t.same([report.decisions, report.malformed], [2, 1], 'report: the two decisions written, the cut line malformed');
});
