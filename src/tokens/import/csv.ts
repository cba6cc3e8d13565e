/**
 * Base32 CSV reader (RELIABILITY §4 "Base32 CSV"): file bytes in, TOTP records and per-line issues out.
 *
 * Two forms, told apart by the first row:
 * - with a header (case-insensitive), e.g. Entra/Azure `upn,serial number,secret key,time interval,manufacturer,model`;
 *   columns: `upn` (or `user`), `serial number` (or `serial`), `secret key` (or `secret`),
 *   `time interval` (or `interval`, `period`), `manufacturer`, `model`, `digits`, `algorithm`;
 *   serial and secret are required, the others optional; an unknown column refuses the file;
 * - without a header: `serial,secret[,interval[,digits[,algorithm]]]`.
 * Defaults: interval 30, digits 6, algorithm SHA1 (an empty cell takes the default).
 * UTF-8 with or without BOM, CRLF or LF, comma or semicolon (whichever the first line has more of).
 * Secrets are RFC 4648 Base32 (0, 1, 8, 9 refused) of at least 16 bytes (RFC 4226 R6).
 */
import { parse } from 'csv-parse/sync';
import { base32Decode } from '../base32.js';
import { MIN_SECRET_BYTES } from '../record.js';
import type { OtpAlgorithm, OtpDigits, TokenRecord } from '../record.js';
import type { ImportIssue, ParseResult, RecordPlace } from './issue.js';

type Column = 'user' | 'serial' | 'secret' | 'interval' | 'manufacturer' | 'model' | 'digits' | 'algorithm';

const HEADER_NAMES: Record<string, Column> = {
  upn: 'user',
  user: 'user',
  'serial number': 'serial',
  serial: 'serial',
  'secret key': 'secret',
  secret: 'secret',
  'time interval': 'interval',
  interval: 'interval',
  period: 'interval',
  manufacturer: 'manufacturer',
  model: 'model',
  digits: 'digits',
  algorithm: 'algorithm',
};

/** Header-less rows: positions 1–5. */
const POSITIONAL: Column[] = ['serial', 'secret', 'interval', 'digits', 'algorithm'];

/** The CSV-level faults csv-parse reports, in our words (its own messages may quote cell text). */
function csvFault(code: string): string {
  return code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is not closed' : `malformed CSV (${code})`;
}

function detectDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] as string;
  const count = (c: string): number => first.split(c).length - 1;
  return count(';') > count(',') ? ';' : ',';
}

interface Cell {
  column: Column;
  label: string;
  value: string;
}

export function parseCsv(content: Buffer, file: string): ParseResult {
  const issues: ImportIssue[] = [];
  const refused = (record: string, field: string, reason: string): ParseResult => ({ records: [], places: [], issues: [{ file, record, field, reason }], warnings: [] });
  const fileIssue = (field: string, reason: string): ParseResult => refused('file', field, reason);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(content);
  } catch {
    return fileIssue('', 'is not UTF-8 text');
  }

  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parse(text, {
      delimiter: detectDelimiter(text),
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (e) {
    const err = e as { code?: string; lines?: number };
    return refused(`line ${err.lines}`, '', csvFault(String(err.code)));
  }

  // A header names its columns; a data row starts with a serial and a Base32 secret.
  const isNamed = (c: string): boolean => ['serial', 'secret'].includes(HEADER_NAMES[c.toLowerCase()] as string);
  const hasHeader = rows[0] !== undefined && rows[0].record.some(isNamed);
  let layout: Array<{ column: Column; label: string }>;
  if (hasHeader) {
    layout = [];
    const header = (rows.shift() as { record: string[] }).record;
    for (const label of header) {
      const column = HEADER_NAMES[label.toLowerCase()];
      if (column === undefined) return refused('line 1', label, 'unknown column');
      if (layout.some((l) => l.column === column)) return refused('line 1', label, 'column given twice');
      layout.push({ column, label });
    }
    for (const required of ['serial', 'secret'] as const) {
      if (!layout.some((l) => l.column === required)) return fileIssue('', `the header has no ${required === 'serial' ? 'serial number' : 'secret key'} column`);
    }
  } else {
    layout = POSITIONAL.map((column) => ({ column, label: column }));
  }

  if (rows.length === 0) return fileIssue('', 'has no token rows');

  const records: TokenRecord[] = [];
  const places: RecordPlace[] = [];
  const seen = new Map<string, number>();
  for (const { record: cells, info } of rows) {
    const line = info.lines;
    const bad = (field: string, reason: string): void => {
      issues.push({ file, record: `line ${line}`, field, reason });
    };
    if (cells.length > layout.length) {
      bad('', `has ${cells.length} columns; at most ${layout.length} expected`);
      continue;
    }
    const cell = new Map<Column, Cell>();
    layout.forEach((l, i) => cell.set(l.column, { ...l, value: cells[i] ?? '' }));
    const get = (c: Column): Cell => cell.get(c) ?? { column: c, label: c, value: '' };
    const before = issues.length;

    const serialCell = get('serial');
    const serial = serialCell.value;
    if (serial === '') bad(serialCell.label, 'is empty');

    const secretCell = get('secret');
    const decoded = base32Decode(secretCell.value);
    let secret: Buffer | undefined;
    if (!decoded.ok) bad(secretCell.label, `is not Base32: it ${decoded.reason}`);
    else if (decoded.bytes.length < MIN_SECRET_BYTES) {
      bad(secretCell.label, `is ${decoded.bytes.length} bytes; at least ${MIN_SECRET_BYTES} are required (RFC 4226 R6)`);
    } else secret = decoded.bytes;

    const intervalCell = get('interval');
    const interval = intervalCell.value === '' ? 30 : Number(intervalCell.value);
    if (!/^\d{0,9}$/.test(intervalCell.value) || interval < 1) bad(intervalCell.label, 'is not a positive whole number of seconds');

    const digitsCell = get('digits');
    const digits = digitsCell.value === '' ? 6 : Number(digitsCell.value);
    if (!/^[678]?$/.test(digitsCell.value)) bad(digitsCell.label, 'is not 6, 7 or 8');

    const algorithmCell = get('algorithm');
    const m = /^(?:HMAC-?)?SHA-?(1|256|512)$/i.exec(algorithmCell.value);
    const algorithm = algorithmCell.value === '' ? 'SHA1' : `SHA${m?.[1]}`;
    if (algorithmCell.value !== '' && m === null) bad(algorithmCell.label, 'is not SHA1, SHA256 or SHA512');

    if (serial !== '') {
      const first = seen.get(serial);
      if (first !== undefined) bad(serialCell.label, `serial ${serial} is also on line ${first}`);
      else seen.set(serial, line);
    }
    if (issues.length > before) continue;

    const record: TokenRecord = {
      serial,
      type: 'totp',
      algorithm: algorithm as OtpAlgorithm,
      digits: digits as OtpDigits,
      period: interval,
      t0: 0,
      counter: 0,
      drift: 0,
      secret: secret as Buffer,
    };
    for (const k of ['user', 'manufacturer', 'model'] as const) {
      const v = get(k).value;
      if (v !== '') record[k] = v;
    }
    records.push(record);
    places.push({ record: `line ${line}`, serial: serialCell.label, user: get('user').label });
  }
  return { records, places, issues, warnings: [] };
}
