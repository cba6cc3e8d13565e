/**
 * The report period: --since and --until as ISO dates/times or as a time ago ("7d", "12h",
 * "30m", "45s", "2w"). A date alone is midnight UTC; a time without an offset is UTC — the audit
 * log's `time` is UTC. The period is [since, until): since included, until excluded.
 * Default: the 7 days up to now. `now` is passed in, so tests fix the clock.
 */

export interface Period {
  since: Date;
  until: Date;
}

/** A bad --since or --until; `option` names it (the CLI turns this into a usage error). */
export class PeriodError extends Error {
  constructor(
    readonly option: '--since' | '--until',
    message: string,
  ) {
    super(`${option}: ${message}`);
    this.name = 'PeriodError';
  }
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE = /^(\d{1,6})([smhdw])$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export const DEFAULT_SINCE = '7d';

/** One --since / --until value → a Date; throws PeriodError naming the option. */
export function parseTime(value: string, now: Date, option: '--since' | '--until'): Date {
  const v = value.trim();
  if (v === 'now') return new Date(now.getTime());
  const rel = RELATIVE.exec(v);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * (UNIT_MS[rel[2] as string] as number));
  const d = DATE.exec(v) ?? DATE_TIME.exec(v);
  if (d) {
    const iso = DATE.test(v) ? `${v}T00:00:00Z` : `${v.replace(' ', 'T')}${d[7] === undefined ? 'Z' : ''}`;
    const t = new Date(iso);
    // Reject what Date would silently roll over (2026-02-30, 24:00).
    const [y, mo, day, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(d[i] ?? 0)) as [number, number, number, number, number, number];
    const daysInMonth = mo >= 1 && mo <= 12 ? new Date(Date.UTC(y, mo, 0)).getUTCDate() : 0;
    const valid = !Number.isNaN(t.getTime()) && day >= 1 && day <= daysInMonth && h <= 23 && mi <= 59 && sec <= 59;
    if (valid) return t;
  }
  // "-5d" would be 5 days from now: the log holds nothing yet to come, so a sign is a mistake.
  if (RELATIVE.test(v.replace(/^[+-]/, ''))) throw new PeriodError(option, `"${value}": a time ago is written without a sign: ${option} ${v.slice(1)}`);
  throw new PeriodError(option, `"${value}" is not a date (2026-11-22, 2026-11-22T08:00, 2026-11-22T08:00:00+01:00) or a time ago (30m, 12h, 7d, 2w)`);
}

/** The period from the two options (either may be absent). */
export function parsePeriod(opts: { since?: string; until?: string; now: Date }): Period {
  const since = parseTime(opts.since ?? DEFAULT_SINCE, opts.now, '--since');
  const until = opts.until === undefined ? new Date(opts.now.getTime()) : parseTime(opts.until, opts.now, '--until');
  if (since.getTime() >= until.getTime()) {
    throw new PeriodError('--since', `${since.toISOString()} is not before --until ${until.toISOString()}`);
  }
  return { since, until };
}
