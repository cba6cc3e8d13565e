/**
 * What an import parser returns (ARCHITECTURE pattern 6): the records it could read and every
 * problem it found, each naming the file, the record and the field. The CLI decides what to do
 * with them (all or nothing). Nothing here ever carries a secret, a key or a password.
 */
import type { TokenRecord } from '../record.js';

export interface ImportIssue {
  file: string;
  /** 'file' for the file as a whole, else 'KeyPackage 3' (PSKC) or 'line 7' (CSV). */
  record: string;
  /** The element or column at fault, e.g. 'Secret', 'ValueMAC', 'secret key'; '' when none. */
  field: string;
  reason: string;
}

/** Where a record was read, to name it in issues found later against the store (serial taken, user missing). */
export interface RecordPlace {
  /** As ImportIssue.record: 'KeyPackage 3' or 'line 7'. */
  record: string;
  /** The element or column that gave its serial and its user, e.g. 'SerialNo' / 'UserId', 'serial number' / 'upn'. */
  serial: string;
  user: string;
}

export interface ParseResult {
  records: TokenRecord[];
  /** records[i] was read at places[i]. */
  places: RecordPlace[];
  /** Problems that make the file unimportable (the CLI refuses the whole file on any). */
  issues: ImportIssue[];
  /** Things the administrator should know that do not stop the import (e.g. an unverified signature). */
  warnings: ImportIssue[];
}

/** Keeps a message on one line: control characters (CR, LF, tabs, escapes) become spaces. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** `file.xml: KeyPackage 3: ValueMAC: MAC does not match` (the record part is left out for 'file'). */
export function formatIssue(i: ImportIssue): string {
  const parts = [i.file];
  if (i.record !== 'file') parts.push(i.record);
  if (i.field !== '') parts.push(i.field);
  parts.push(i.reason);
  return oneLine(parts.join(': '));
}
