/**
 * `report [--since T] [--until T] [--by user|day|client|result] [--format table|csv|json]`:
 * authentication and usage report from the audit log (SPEC). Thin: parse, build, print.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { GROUP_BY } from '../audit/report/aggregate.js';
import type { GroupBy } from '../audit/report/aggregate.js';
import { REPORT_FORMATS, renderReport } from '../audit/report/format.js';
import type { ReportFormat } from '../audit/report/format.js';
import { parsePeriod } from '../audit/report/period.js';
import type { Period, PeriodError } from '../audit/report/period.js';
import { buildReport } from '../audit/report/run.js';
import { configErrorAt } from '../config/load.js';
import { withStoreReadOnly } from './context.js';
import { CliError } from './io.js';
import type { GlobalArgs, Io } from './io.js';
import { progressBar } from './output.js';

interface ReportArgs extends GlobalArgs {
  since?: string;
  until?: string;
  by: GroupBy;
  format: ReportFormat;
}

export interface ReportDeps {
  /** The clock relative times count back from (tests fix it). */
  now?: () => Date;
}

export function reportCommand(io: Io, deps: ReportDeps = {}): CommandModule<GlobalArgs, ReportArgs> {
  return {
    command: 'report',
    describe: 'authentication and usage report from the audit log',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .option('since', { type: 'string', requiresArg: true, describe: 'start: ISO date/time (UTC unless an offset is given) or a time ago (7d, 12h, 30m); default 7d' })
        .option('until', { type: 'string', requiresArg: true, describe: 'end (excluded), same forms; default now' })
        .option('by', { choices: GROUP_BY, default: 'result' as GroupBy, describe: 'group the counts by' })
        .option('format', { choices: REPORT_FORMATS, default: 'table' as ReportFormat, describe: 'output format (--json = json)' }) as unknown as Argv<ReportArgs>,
    handler: async (argv) => {
      let period: Period;
      try {
        period = parsePeriod({ since: argv.since, until: argv.until, now: deps.now?.() ?? new Date() });
      } catch (err) {
        // parsePeriod throws only PeriodError, whose message names the option.
        throw new CliError((err as PeriodError).message, 2);
      }
      const format: ReportFormat = argv.json === true ? 'json' : argv.format;
      // Read-only: a report creates no store (nor key) where there is none, and writes nothing.
      await withStoreReadOnly(argv, async ({ config, store, file }) => {
        if (config.log.audit === '') throw new CliError('report: the audit log is disabled ([log] audit = "")');
        // No directory is a wrong path (or a server that never ran), not an empty report.
        const dir = dirname(config.log.audit);
        if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) throw new CliError(configErrorAt(file, ['log', 'audit'], `${config.log.audit}: the directory ${dir} does not exist`).message);
        const tokens = (store?.tokens.list() ?? []).map((t) => ({ serial: t.serial, user: t.user, lastUsedAt: t.lastUsedAt }));
        const bar = await progressBar(io, 'reading audit log [{bar}] {percentage}% {value}/{total} bytes', true);
        let started = false;
        const report = await buildReport({
          file: config.log.audit,
          since: period.since,
          until: period.until,
          by: argv.by,
          tokens,
          onProgress: bar
            ? (read, total) => {
                if (!started) bar.start(total, 0);
                started = true;
                bar.update(Math.min(read, total));
              }
            : undefined,
        });
        if (started) bar?.stop();
        io.stdout(renderReport(report, format));
      });
    },
  };
}
