/**
 * Where the audit log lives on disk. One rule, shared by the writer (audit-log.ts) and the
 * report reader, so that `report` always finds what the server wrote:
 *
 *   [log] audit = "data/audit.log"
 *     data/audit-2026-11-22.log   one file per UTC day (the audit `time` field is UTC too);
 *     data/audit-2026-11-21.log   rotated at UTC midnight, kept for audit_retention_days
 *     data/audit.log              a symbolic link to today's file (for `tail -F`)
 *
 * Retention goes by these names (pruneAuditFiles), not by winston-daily-rotate-file's bookkeeping
 * (data/.audit.log-rotation.json, which an older install wrote and nothing reads now): that list
 * knew only the files it had made itself, and lost it, pruned nothing at all.
 *
 * The stem and extension come from the configured name: "audit.log" → "audit-DATE.log",
 * "audit" → "audit-DATE", "x.jsonl" → "x-DATE.jsonl". The report reads every dated file and, when
 * the configured path is a regular file rather than the link (a log written before rotation
 * existed, or copied in), that file too.
 */
import { lstat, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

export interface AuditFileNames {
  dir: string;
  /** The configured name, e.g. "audit.log" (the symlink to today's file). */
  base: string;
  /** The winston-daily-rotate-file filename pattern, e.g. "audit-%DATE%.log". */
  pattern: string;
  /** The dated file for a UTC day "YYYY-MM-DD". */
  forDate(day: string): string;
  /** "YYYY-MM-DD" when name is a dated file of this log, else null. */
  dateOf(name: string): string | null;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function auditFileNames(file: string): AuditFileNames {
  const dir = dirname(file);
  const base = basename(file);
  const ext = extname(base);
  const stem = ext === '' || ext === base ? base : base.slice(0, -ext.length);
  const suffix = stem === base ? '' : ext;
  const re = new RegExp(`^${escapeRegExp(stem)}-(\\d{4}-\\d{2}-\\d{2})${escapeRegExp(suffix)}$`);
  return {
    dir,
    base,
    pattern: `${stem}-%DATE%${suffix}`,
    forDate: (day) => join(dir, `${stem}-${day}${suffix}`),
    dateOf: (name) => re.exec(name)?.[1] ?? null,
  };
}

export interface AuditFile {
  path: string;
  /** UTC day the file holds; null for the undated configured file. */
  date: string | null;
  size: number;
}

/**
 * The audit files of a log, oldest first (the undated file, if any, before the dated ones).
 * A missing directory is an empty list.
 */
export async function listAuditFiles(file: string): Promise<AuditFile[]> {
  const names = auditFileNames(file);
  let entries: string[];
  try {
    entries = await readdir(names.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: AuditFile[] = [];
  for (const name of entries) {
    const date = names.dateOf(name);
    const path = join(names.dir, name);
    if (date !== null) {
      const st = await stat(path).catch(() => null);
      if (st?.isFile()) out.push({ path, date, size: st.size });
    } else if (name === names.base) {
      const st = await lstat(path);
      if (st.isFile()) out.push({ path, date: null, size: st.size });
    }
  }
  const dateKey = (f: AuditFile): string => f.date ?? '';
  return out.sort((a, b) => (dateKey(a) < dateKey(b) ? -1 : 1));
}

/**
 * Retention: deletes the dated files of the log (listAuditFiles) whose day is more than `days`
 * days before `today` ("YYYY-MM-DD"), so that every line is kept at least that long, whoever
 * wrote them (an older install, a restore). Nothing else is touched: not the undated file, nor
 * any name that is not this log's. A file that cannot be deleted goes to onError, and the others
 * are still deleted.
 */
export async function pruneAuditFiles(file: string, days: number, today: string, onError: (err: Error) => void): Promise<void> {
  const oldest = new Date(Date.parse(today) - days * 86_400_000).toISOString().slice(0, 10);
  for (const f of await listAuditFiles(file)) {
    if (f.date !== null && f.date < oldest) await unlink(f.path).catch(onError);
  }
}
