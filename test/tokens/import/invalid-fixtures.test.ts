/**
 * ARCHITECTURE pattern 11: every invalid PSKC and CSV fixture, one table each (the tables are data:
 * test/fixtures/{pskc,csv}/invalid/expected.json), and the issue each must give.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseCsv } from '../../../src/tokens/import/csv.js';
import { formatIssue } from '../../../src/tokens/import/issue.js';
import { parsePskc } from '../../../src/tokens/import/pskc.js';

interface Case {
  file: string;
  name?: string;
  keyHex?: string;
  password?: string;
  /** The time the file is read at (parsePskc limits.now), where its dates need one. */
  now?: string;
  record: string;
  field: string;
  reason: string;
}

const FIX = new URL('../../fixtures/', import.meta.url);
const table = (kind: string): Case[] => (JSON.parse(readFileSync(new URL(`${kind}/invalid/expected.json`, FIX), 'utf8')) as { cases: Case[] }).cases;

// Strings that must never appear in an issue: the RFC secret in hex, base64 and Base32, and the keys.
const FORBIDDEN = [
  '3132333435363738393031323334353637383930',
  'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA',
  'GEZDGNBVGY3TQOJQ',
  '12345678901234567890',
  'qwerty',
];

for (const kind of ['pskc', 'csv'] as const) {
  t.test(`invalid ${kind} fixtures`, async (t) => {
    const cases = table(kind);
    t.ok(cases.length >= 12, 'at least a dozen');
    for (const c of cases) {
      const content = readFileSync(new URL(`${kind}/invalid/${c.file}`, FIX));
      const r =
        kind === 'pskc'
          ? parsePskc(
              content,
              c.file,
              { key: c.keyHex === undefined ? undefined : Buffer.from(c.keyHex, 'hex'), password: c.password },
              { now: c.now === undefined ? undefined : Date.parse(c.now) / 1000 },
            )
          : parseCsv(content, c.file);
      const label = c.name ?? c.file;
      t.equal(r.issues.length, 1, `${label}: exactly one issue`);
      const issue = r.issues[0];
      t.match(issue, { file: c.file, record: c.record, field: c.field, reason: new RegExp(c.reason) }, label);
      if (c.record === 'file') t.same(r.records, [], `${label}: a file-level issue yields no records`);
      const line = issue === undefined ? '' : formatIssue(issue);
      for (const f of FORBIDDEN) t.notOk(line.includes(f), `${label}: no secret or key in "${line}"`);
    }
  });
}
