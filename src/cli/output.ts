/** Lists for people (aligned columns) or for scripts (--json), and progress bars on a terminal. */
import type { SingleBar } from 'cli-progress';
import { shown, type Io } from './io.js';

export type Row = Record<string, string | number | boolean | null>;

/** A table for people or JSON for scripts; a table cell with control characters is shown quoted and escaped (shown()). */
export function printRows(io: Io, json: boolean | undefined, rows: readonly Row[], columns: readonly string[]): void {
  if (json) {
    io.stdout(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (rows.length === 0) {
    io.stdout('(none)\n');
    return;
  }
  const cell = (v: Row[string] | undefined): string => (v === null || v === undefined ? '-' : shown(String(v)));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
  io.stdout(`${line(columns)}\n`);
  for (const r of rows) io.stdout(`${line(columns.map((c) => cell(r[c])))}\n`);
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
