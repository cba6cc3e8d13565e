import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseCsv } from '../../../src/tokens/import/csv.js';

const FIX = new URL('../../fixtures/csv/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIX));
const SEED20 = '12345678901234567890';
const SEED32 = '12345678901234567890123456789012';

t.test('Entra/Azure header, BOM, CRLF, spaced lower-case secret', async (t) => {
  const r = parseCsv(read('valid/azure.csv'), 'azure.csv');
  t.same(r.issues, []);
  t.same(
    r.records.map((x) => [x.user, x.serial, x.secret.toString(), x.period, x.manufacturer, x.model, x.type, x.digits, x.algorithm]),
    [
      ['alice@example.com', 'AZ-0001', SEED20, 30, 'Contoso', 'Hard1', 'totp', 6, 'SHA1'],
      ['bob@example.com', 'AZ-0002', SEED20, 60, 'Contoso', 'Hard1', 'totp', 6, 'SHA1'],
    ],
  );
});

t.test('header-less rows with positions 4 (digits) and 5 (algorithm), blank lines skipped', async (t) => {
  const r = parseCsv(read('valid/headerless.csv'), 'h.csv');
  t.same(r.issues, []);
  t.same(
    r.records.map((x) => [x.serial, x.secret.toString(), x.period, x.digits, x.algorithm, x.user]),
    [
      ['HL-1', SEED20, 30, 6, 'SHA1', undefined],
      ['HL-2', SEED32, 30, 8, 'SHA256', undefined],
      ['HL-3', SEED20, 30, 6, 'SHA1', undefined],
    ],
  );
});

t.test('semicolons, mixed-case header in another order, empty cells take defaults', async (t) => {
  const r = parseCsv(read('valid/semicolon.csv'), 's.csv');
  t.same(r.issues, []);
  t.same(
    r.records.map((x) => [x.serial, x.user, x.period, x.digits, x.algorithm]),
    [
      ['SC-1', 'carol', 30, 8, 'SHA256'],
      ['SC-2', undefined, 30, 6, 'SHA1'],
    ],
  );
});

t.test('every bad row is listed with its line and field; good rows still parse', async (t) => {
  const text = [
    'serial,secret,interval,digits,algorithm',
    'OK-1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,30',
    ',GEZDGNBVGY3TQOJ0GEZDGNBVGY3TQOJQ,x,5,md5',
    'OK-2,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,60,7,sha-512',
    'OK-1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
    'SHORT',
  ].join('\n');
  const r = parseCsv(Buffer.from(text), 'm.csv');
  t.same(
    r.issues.map((i) => [i.record, i.field, i.reason]),
    [
      ['line 3', 'serial', 'is empty'],
      ['line 3', 'secret', 'is not Base32: it has a character outside A-Z and 2-7 at position 16'],
      ['line 3', 'interval', 'is not a positive whole number of seconds'],
      ['line 3', 'digits', 'is not 6, 7 or 8'],
      ['line 3', 'algorithm', 'is not SHA1, SHA256 or SHA512'],
      ['line 5', 'serial', 'serial OK-1 is also on line 2'],
      ['line 6', 'secret', 'is not Base32: it is empty'],
    ],
  );
  t.same(r.records.map((x) => [x.serial, x.period, x.digits, x.algorithm]), [
    ['OK-1', 30, 6, 'SHA1'],
    ['OK-2', 60, 7, 'SHA512'],
  ]);
});

t.test('file-level refusals', async (t) => {
  t.match(parseCsv(Buffer.from(''), 'e.csv').issues, [{ record: 'file', reason: 'has no token rows' }]);
  t.match(parseCsv(Buffer.from('serial,serial number\n'), 'd.csv').issues, [{ record: 'line 1', field: 'serial number', reason: 'column given twice' }]);
  t.match(parseCsv(Buffer.from('serial number,time interval\nA,30\n'), 'n.csv').issues, [{ record: 'file', reason: 'the header has no secret key column' }]);
  t.match(parseCsv(Buffer.from('a,b\n"ab"c,d\n'), 'q.csv').issues, [{ record: 'line 2', reason: /^malformed CSV \(CSV_/ }]);
});
