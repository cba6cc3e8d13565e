/**
 * Import throughput: a 100,000-token Base32 CSV and a plain PSKC file (compact, or indented with
 * the pskc: prefix as python-pskc writes it: ~47 MB and ~68 MB), generated here, each parsed
 * and written with one importMany into a fresh store (the same path as `radius-otp import`);
 * then a `key rotate` of the CSV's store. For each write, how long it held the store's write
 * lock (lock-probe.ts): what a running server's answers would wait.
 * Benchmark data only: the secrets are random and protect nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../store/open.js';
import { rotateKey } from '../store/rotate-key.js';
import { base32Encode } from '../tokens/base32.js';
import { parseCsv } from '../tokens/import/csv.js';
import type { ParseResult } from '../tokens/import/issue.js';
import { parsePskc } from '../tokens/import/pskc.js';
import { probeWriteLock } from './lock-probe.js';

export interface ImportBenchResult {
  pskcSeconds: number;
  csvSeconds: number;
  pskcParseSeconds: number;
  csvParseSeconds: number;
  /** The longest a writer beside each import waited for the write lock (lock-probe.ts): what a server's commits would. */
  pskcLockSeconds: number;
  csvLockSeconds: number;
  /** `key rotate` of the CSV import's store (rotate-key.ts): in all, and the longest wait beside it. */
  rotateSeconds: number;
  rotateLockSeconds: number;
}

export interface ImportBenchOptions {
  /** Tokens per file (default 100,000). */
  tokens?: number;
  /** Scratch directory (default: a new one under the system temp directory). */
  workDir?: string;
  /** Alias of workDir (what bench/run.ts passes). */
  dir?: string;
  /** Where the figures go (default stdout). */
  print?: (line: string) => void;
  /** Layout of the PSKC file (default compact). */
  pskcStyle?: PskcStyle;
}

export type PskcStyle = 'compact' | 'indented';

const serial = (prefix: string, i: number): string => `${prefix}${String(i).padStart(7, '0')}`;

export function benchCsv(tokens: number): Buffer {
  const lines = ['upn,serial number,secret key,time interval,manufacturer,model'];
  for (let i = 0; i < tokens; i++) lines.push(`,${serial('CSV', i)},${base32Encode(randomBytes(20))},30,Bench,B1`);
  return Buffer.from(`${lines.join('\r\n')}\r\n`);
}

/** python-pskc 1.2's layout: one-space indentation, every element with the pskc: prefix. */
function indentedPskc(tokens: number): Buffer {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">\n'];
  const value = (pad: string, name: string, v: string) =>
    `${pad}<pskc:${name}>\n${pad} <pskc:PlainValue>${v}</pskc:PlainValue>\n${pad}</pskc:${name}>\n`;
  for (let i = 0; i < tokens; i++) {
    const s = serial('PSKC', i);
    parts.push(
      ` <pskc:KeyPackage>\n  <pskc:DeviceInfo>\n   <pskc:Manufacturer>Bench</pskc:Manufacturer>\n   <pskc:SerialNo>${s}</pskc:SerialNo>\n  </pskc:DeviceInfo>\n` +
        `  <pskc:Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp" Id="${s}">\n   <pskc:AlgorithmParameters>\n    <pskc:Suite>HMAC-SHA1</pskc:Suite>\n` +
        '    <pskc:ResponseFormat Encoding="DECIMAL" Length="6"/>\n   </pskc:AlgorithmParameters>\n   <pskc:Data>\n' +
        value('    ', 'Secret', randomBytes(20).toString('base64')) +
        value('    ', 'Time', '0') +
        value('    ', 'TimeInterval', '30') +
        '   </pskc:Data>\n  </pskc:Key>\n </pskc:KeyPackage>\n',
    );
  }
  parts.push('</pskc:KeyContainer>\n');
  return Buffer.from(parts.join(''));
}

export function benchPskc(tokens: number, style: PskcStyle = 'compact'): Buffer {
  if (style === 'indented') return indentedPskc(tokens);
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">\n'];
  for (let i = 0; i < tokens; i++) {
    parts.push(
      `<KeyPackage><DeviceInfo><Manufacturer>Bench</Manufacturer><SerialNo>${serial('PSKC', i)}</SerialNo></DeviceInfo>` +
        '<Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"><AlgorithmParameters><Suite>HMAC-SHA1</Suite><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>' +
        `<Data><Secret><PlainValue>${randomBytes(20).toString('base64')}</PlainValue></Secret><Time><PlainValue>0</PlainValue></Time><TimeInterval><PlainValue>30</PlainValue></TimeInterval></Data></Key></KeyPackage>\n`,
    );
  }
  parts.push('</KeyContainer>\n');
  return Buffer.from(parts.join(''));
}

interface Timed {
  total: number;
  parse: number;
  /** The longest a writer beside it waited for the write lock. */
  lock: number;
}

/** The store of an import run, as `radius-otp import` runs with the default config (store.synchronous = "normal"). */
const storeConfig = (dir: string, name: string) => {
  const storeDir = join(dir, `${name}.store`);
  return { store: { path: join(storeDir, 'radius-otp.db'), key_file: join(storeDir, 'master.key'), synchronous: 'normal' as const } };
};

/** Parse then importMany into a fresh store; seconds for the parse, for the whole, and the lock's hold. */
async function run(dir: string, name: string, content: Buffer, parse: (c: Buffer, file: string) => ParseResult): Promise<Timed> {
  const file = join(dir, name);
  writeFileSync(file, content);
  const config = storeConfig(dir, name);
  const { path } = config.store;
  const store = openStore(config, () => {});
  const probe = await probeWriteLock(path);
  try {
    const t0 = performance.now();
    const result = parse(readFileSync(file), name);
    const t1 = performance.now();
    /* c8 ignore next -- the generators above write only valid records; this guards the bench against a broken generator */
    if (result.issues.length > 0) throw new Error(`${name}: the generated file has issues: ${result.issues[0]?.reason}`);
    store.tokens.importMany(result.records, { replace: false, createUsers: false });
    const t2 = performance.now();
    return { total: (t2 - t0) / 1000, parse: (t1 - t0) / 1000, lock: (await probe.stop()) / 1000 };
  } finally {
    await probe.stop();
    store.close();
  }
}

/** `key rotate` of the store an import run left: seconds in all, and the lock's hold. */
async function rotate(dir: string, name: string): Promise<{ total: number; lock: number }> {
  const config = storeConfig(dir, name);
  const probe = await probeWriteLock(config.store.path);
  try {
    const t0 = performance.now();
    rotateKey(config);
    const total = (performance.now() - t0) / 1000;
    return { total, lock: (await probe.stop()) / 1000 };
  } finally {
    await probe.stop();
  }
}

export async function benchImport(opts: ImportBenchOptions = {}): Promise<ImportBenchResult> {
  const { tokens, print } = { tokens: 100_000, print: (line: string) => void process.stdout.write(`${line}\n`), ...opts };
  const given = opts.workDir ?? opts.dir;
  const dir = given ?? mkdtempSync(join(tmpdir(), 'radius-otp-import-bench-'));
  const workDir = join(dir, 'import-bench');
  mkdirSync(workDir, { recursive: true });

  let pskc: Timed;
  let csv: Timed;
  let rotated: { total: number; lock: number };
  try {
    pskc = await run(workDir, 'tokens.pskcxml', benchPskc(tokens, opts.pskcStyle), (c, f) => parsePskc(c, f, {}));
    csv = await run(workDir, 'tokens.csv', benchCsv(tokens), parseCsv);
    rotated = await rotate(workDir, 'tokens.csv');
  } finally {
    // A directory of its own is removed; a given one belongs to the caller.
    if (given === undefined) rmSync(dir, { recursive: true, force: true });
  }
  const result: ImportBenchResult = {
    pskcSeconds: Number(pskc.total.toFixed(3)),
    csvSeconds: Number(csv.total.toFixed(3)),
    pskcParseSeconds: Number(pskc.parse.toFixed(3)),
    csvParseSeconds: Number(csv.parse.toFixed(3)),
    pskcLockSeconds: Number(pskc.lock.toFixed(3)),
    csvLockSeconds: Number(csv.lock.toFixed(3)),
    rotateSeconds: Number(rotated.total.toFixed(3)),
    rotateLockSeconds: Number(rotated.lock.toFixed(3)),
  };
  print(
    `import ${tokens} tokens: PSKC ${result.pskcSeconds} s (parse ${result.pskcParseSeconds} s, write lock held ${result.pskcLockSeconds} s), ` +
      `CSV ${result.csvSeconds} s (parse ${result.csvParseSeconds} s, write lock held ${result.csvLockSeconds} s); ` +
      `key rotate ${result.rotateSeconds} s (write lock held ${result.rotateLockSeconds} s)`,
  );
  return result;
}
