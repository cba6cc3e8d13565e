/**
 * Report output: a human table, one CSV table, or JSON. Names in the audit log come from the
 * network (User-Name, NAS-Identifier): control characters are replaced before they reach a
 * terminal, and CSV cells that a spreadsheet would run as a formula are prefixed with a quote.
 */
import type { Report } from './aggregate.js';

export type ReportFormat = 'table' | 'csv' | 'json';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'csv', 'json'];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function safe(s: string): string {
  return s.replace(CONTROL, '?');
}

function label(s: string | null): string {
  return s === null || s === '' ? '(none)' : safe(s);
}

function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => cells.reduce((w, r) => Math.max(w, (r[i] as string).length), 0));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd())
    .join('\n');
}

function section(title: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return `${title}\n${rows.length === 0 ? '  (none)' : table(header, rows)}\n`;
}

export function renderTable(r: Report): string {
  const out: string[] = [];
  out.push(
    `Audit report ${r.period.since} – ${r.period.until}\n` +
      `${r.files} file(s), ${r.lines} line(s), ${r.decisions} decision(s) and ${r.drops} drop(s) in the period` +
      (r.malformed > 0 ? `, ${r.malformed} malformed line(s) skipped` : '') +
      '\n',
  );
  const countRows = r.groups.map((g) => [label(g.key), g.accept, g.reject, g.challenge, g.total]);
  if (r.groups.length > 0) countRows.push(['total', r.totals.accept, r.totals.reject, r.totals.challenge, r.totals.total]);
  out.push(section(`By ${r.by}`, [r.by, 'accept', 'reject', 'challenge', 'total'], countRows));
  out.push(section('Top denial reasons', ['reason', 'count'], r.denialReasons.map((d) => [label(d.reason), d.count])));
  out.push(section('Users locked out', ['user', 'rejects', 'last'], r.lockedUsers.map((l) => [label(l.user), l.count, l.last])));
  out.push(
    section(
      'App-password use',
      ['user', 'accept', 'reject', 'total', 'last'],
      r.appPasswords.map((a) => [label(a.user), a.accept, a.reject, a.total, a.last]),
    ),
  );
  out.push(section('Drops', ['reason', 'count'], r.dropReasons.map((d) => [label(d.reason), d.count])));
  out.push(
    section(
      'Unused tokens',
      ['serial', 'user', 'last used', 'status'],
      r.unusedTokens.map((t) => [label(t.serial), label(t.user), t.lastUsedAt ?? 'never', t.status]),
    ),
  );
  return out.join('\n');
}

const CSV_HEADER = ['section', 'key', 'user', 'accept', 'reject', 'challenge', 'total', 'count', 'last', 'status'] as const;
type CsvRow = Partial<Record<(typeof CSV_HEADER)[number], string | number | null>>;

function csvCell(v: string | number | null | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return String(v);
  let s = safe(v);
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One CSV table for every section: the `section` column says which (by-user, total,
 * denial-reason, locked, app-password, drop, unused-token, summary); columns a section does
 * not use are empty.
 */
export function renderCsv(r: Report): string {
  const rows: CsvRow[] = [];
  rows.push({ section: 'summary', key: 'since', last: r.period.since });
  rows.push({ section: 'summary', key: 'until', last: r.period.until });
  for (const [key, count] of [['files', r.files], ['lines', r.lines], ['malformed', r.malformed], ['decisions', r.decisions], ['drops', r.drops]] as const) {
    rows.push({ section: 'summary', key, count });
  }
  for (const g of r.groups) rows.push({ section: `by-${r.by}`, key: g.key, accept: g.accept, reject: g.reject, challenge: g.challenge, total: g.total });
  rows.push({ section: 'total', key: '', ...r.totals });
  for (const d of r.denialReasons) rows.push({ section: 'denial-reason', key: d.reason, count: d.count });
  for (const l of r.lockedUsers) rows.push({ section: 'locked', key: l.user, user: l.user, count: l.count, last: l.last });
  for (const a of r.appPasswords) {
    rows.push({ section: 'app-password', key: a.user, user: a.user, accept: a.accept, reject: a.reject, challenge: a.challenge, total: a.total, last: a.last });
  }
  for (const d of r.dropReasons) rows.push({ section: 'drop', key: d.reason, count: d.count });
  for (const t of r.unusedTokens) rows.push({ section: 'unused-token', key: t.serial, user: t.user, last: t.lastUsedAt, status: t.status });
  return [CSV_HEADER.join(','), ...rows.map((row) => CSV_HEADER.map((h) => csvCell(row[h])).join(','))].join('\n') + '\n';
}

export function renderJson(r: Report): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function renderReport(r: Report, format: ReportFormat): string {
  return format === 'json' ? renderJson(r) : format === 'csv' ? renderCsv(r) : renderTable(r);
}
