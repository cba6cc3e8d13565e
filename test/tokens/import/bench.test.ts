import t from 'tap';
import { benchCsv, benchImport, benchPskc } from '../../../src/bench/import-bench.js';
import { parseCsv } from '../../../src/tokens/import/csv.js';
import { parsePskc } from '../../../src/tokens/import/pskc.js';
import { tempDir } from '../../helpers/tmp.js';

t.test('the bench files are valid imports', async (t) => {
  const csv = parseCsv(benchCsv(10), 'b.csv');
  const pskc = parsePskc(benchPskc(10), 'b.xml', {});
  t.same([csv.issues, pskc.issues], [[], []]);
  t.equal(csv.records.length, 10);
  t.equal(pskc.records.length, 10);
  t.equal(pskc.records[9]!.serial, 'PSKC0000009');
});

t.test('benchImport runs both imports and reports seconds', async (t) => {
  const lines: string[] = [];
  const r = await benchImport({ tokens: 20, workDir: tempDir('radius-otp-ib-'), print: (l) => lines.push(l) });
  for (const k of ['pskcSeconds', 'csvSeconds', 'pskcParseSeconds', 'csvParseSeconds', 'pskcLockSeconds', 'csvLockSeconds', 'rotateSeconds', 'rotateLockSeconds'] as const) t.ok(r[k] >= 0, k);
  t.match(lines, [/^import 20 tokens: PSKC [\d.]+ s \(parse [\d.]+ s, write lock held [\d.]+ s\), CSV [\d.]+ s \(parse [\d.]+ s, write lock held [\d.]+ s\); key rotate [\d.]+ s \(write lock held [\d.]+ s\)$/]);
  // bench/run.ts passes { dir }; with nothing given a temp directory is used and figures go to stdout.
  t.ok((await benchImport({ tokens: 2, dir: tempDir('radius-otp-ib-'), print: () => {} })).csvSeconds >= 0);
  t.ok((await benchImport({ tokens: 1 })).pskcSeconds >= 0);
});
