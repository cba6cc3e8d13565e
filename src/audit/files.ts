/**
 * Where the audit log lives on disk. One rule, shared by the writer (audit-log.ts) and the
 * report reader, so that `report` always finds what the server wrote:
 *
 *   [log] audit = "data/audit.log"
 *     data/audit-2026-11-22.log   one file per UTC day (the audit `time` field is UTC too);
 *     data/audit-2026-11-21.log   rotated at UTC midnight, kept for audit_retention_days
 *     data/audit.log              a symbolic link to today's file (for `tail -F`)
 *     data/.audit.log-rotation.json   the rotation bookkeeping of winston-daily-rotate-file
 *
 * The stem and extension come from the configured name: "audit.log" → "audit-DATE.log",
 * "audit" → "audit-DATE", "x.jsonl" → "x-DATE.jsonl". The report reads every dated file and, when
 * the configured path is a regular file rather than the link (a log written before rotation
 * existed, or copied in), that file too.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

export interface AuditFileNames {
  dir: string;
  /** The configured name, e.g. "audit.log" (the symlink to today's file). */
  base: string;
  /** The winston-daily-rotate-file filename pattern, e.g. "audit-%DATE%.log". */
  pattern: string;
  /** The rotation bookkeeping file (which dated files exist, for retention). */
  rotationFile: string;
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
    rotationFile: join(dir, `.${base}-rotation.json`),
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
