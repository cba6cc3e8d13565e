/** Lists for people (aligned columns) or for scripts (--json), and progress bars on a terminal. */
import type { SingleBar } from 'cli-progress';
import { json, shown, type Io } from './io.js';

/** A list cell; a list of strings (a user's groups) is one per line in a table, an array in JSON. */
export type Row = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * A table for people or JSON for scripts. A table cell with control characters is shown quoted
 * and escaped (shown()); a list cell takes one line per item, the row's other cells blank below
 * the first, so an item with a comma (an LDAP DN) is never mistaken for two.
 */
export function printRows(io: Io, asJson: boolean | undefined, rows: readonly Row[], columns: readonly string[]): void {
  if (asJson) {
    io.stdout(`${json(rows)}\n`);
    return;
  }
  if (rows.length === 0) {
    io.stdout('(none)\n');
    return;
  }
  const lines = (v: Row[string] | undefined): string[] => {
    if (Array.isArray(v)) return v.length === 0 ? ['-'] : v.map(shown);
    return [v === null || v === undefined ? '-' : shown(String(v))];
  };
  const cells = rows.map((r) => columns.map((c) => lines(r[c])));
  // Loops, not Math.max(...spread): a spread of 130,000 rows overflows the call stack.
  const widths = columns.map((c) => c.length);
  for (const r of cells) r.forEach((values, i) => values.forEach((v) => (widths[i] = Math.max(widths[i] as number, v.length))));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  io.stdout(`${line(columns)}\n`);
  for (const r of cells) {
    const height = r.reduce((h, c) => Math.max(h, c.length), 0);
    for (let k = 0; k < height; k++) io.stdout(`${line(r.map((c) => c[k] ?? ''))}\n`);
  }
}

/**
 * A progress bar on io.progress when that is a terminal, else undefined. cli-progress is loaded
 * only then: `serve` never needs it.
 */
export async function progressBar(io: Io, format: string, hideCursor: boolean): Promise<SingleBar | undefined> {
  if (!io.isTTY || io.progress === undefined) return undefined;
  const { default: cliProgress } = await import('cli-progress');
  return new cliProgress.SingleBar({ stream: io.progress, format, clearOnComplete: true, hideCursor }, cliProgress.Presets.shades_classic);
}

/** Unix seconds → ISO time, or null. */
export const isoTime = (s: number | null): string | null => (s === null ? null : new Date(s * 1000).toISOString());
