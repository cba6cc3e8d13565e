/**
 * The report: list the audit files (files.ts), stream their lines (reader.ts), fold them into
 * aggregates (aggregate.ts). Files whose UTC day lies more than a day outside the period are not
 * read at all, so a 7-day report over a year of logs reads about 9 files.
 */
import { listAuditFiles } from '../files.js';
import { ReportBuilder } from './aggregate.js';
import type { GroupBy, Report, TokenUsage } from './aggregate.js';
import { readLines } from './reader.js';

export interface ReportOptions {
  /** The configured audit path ([log] audit). */
  file: string;
  since: Date;
  until: Date;
  by: GroupBy;
  /** The store's tokens, for the unused-token section. */
  tokens?: readonly TokenUsage[];
  /** Bytes read so far and in all (for a progress bar). */
  onProgress?: (read: number, total: number) => void;
}

const DAY_MS = 86_400_000;

export async function buildReport(opts: ReportOptions): Promise<Report> {
  const first = new Date(opts.since.getTime() - DAY_MS).toISOString().slice(0, 10);
  const last = new Date(opts.until.getTime() + DAY_MS).toISOString().slice(0, 10);
  const files = (await listAuditFiles(opts.file)).filter((f) => f.date === null || (f.date >= first && f.date <= last));
  const builder = new ReportBuilder(opts.since, opts.until, opts.by, opts.tokens);
  await readLines(files, builder, opts.onProgress);
  return builder.result(files.length);
}
