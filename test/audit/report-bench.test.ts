import t from 'tap';
import { readdirSync } from 'node:fs';
import { benchReport } from '../../src/bench/report-bench.js';

t.test('the report bench writes the log, runs the report, prints its figures', async (t) => {
  const dir = t.testdir();
  const printed: string[] = [];
  const write = process.stdout.write;
  // collect only the bench's own line; tap's output goes on untouched
  process.stdout.write = ((chunk: string, ...rest: never[]) =>
    String(chunk).startsWith('report-bench:') ? (printed.push(String(chunk)), true) : write.call(process.stdout, chunk, ...rest)) as typeof write;
  t.teardown(() => void (process.stdout.write = write));
  const r = await benchReport({ lines: 250, workDir: `${dir}/logs` });
  process.stdout.write = write;
  t.ok(r.seconds >= 0);
  t.ok(r.peakRssMb > 0);
  t.equal(readdirSync(`${dir}/logs`).filter((f) => /^audit-2026-01-\d\d\.log$/.test(f)).length, 28, '9 lines a day: 28 days');
  t.equal(printed.length, 1);
  t.match(printed[0], /^report-bench: 250 lines in 28 files, 248 decisions, \d+ users: [\d.]+ s \(\d+ lines\/s\), peak RSS \d+ MB\n$/);
});
