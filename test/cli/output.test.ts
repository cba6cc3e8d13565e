/** Lists for people: column widths and multi-line cells, at any size. */
import t from 'tap';
import { printRows } from '../../src/cli/output.js';
import type { Io } from '../../src/cli/io.js';

const collect = (): { io: Io; out: () => string } => {
  let text = '';
  return { io: { stdout: (s) => void (text += s), stderr: () => {}, readStdin: async () => '', isTTY: false }, out: () => text };
};

t.test('a table of 200,000 rows (a large token store) prints; widths fit the longest cell', async (t) => {
  const { io, out } = collect();
  const rows = Array.from({ length: 200_000 }, (_, i) => ({ serial: `S${i}`, user: i === 7 ? 'a-long-user-name' : null, groups: i === 3 ? ['g1', 'g2'] : [] }));
  printRows(io, false, rows, ['serial', 'user', 'groups']);
  const lines = out().split('\n');
  t.equal(lines[0], 'serial   user              groups');
  t.equal(lines[1], 'S0       -                 -');
  t.equal(lines[4], 'S3       -                 g1', 'a list cell: one item per line');
  t.equal(lines[5], '                           g2');
  t.equal(lines.length, 200_000 + 3, 'header, rows, one extra line for g2, and the final newline');
});

t.test('--json: DEL and C1 characters are escaped as well as C0; the JSON reads back the same', async (t) => {
  const { io, out } = collect();
  const rows = [{ serial: 'HW\u009b2J\x7f\x1b', user: 'ø', groups: ['a\u0085b'] }];
  printRows(io, true, rows, ['serial', 'user', 'groups']);
  t.equal(out(), '[{"serial":"HW\\u009b2J\\u007f\\u001b","user":"ø","groups":["a\\u0085b"]}]\n', 'no raw control character reaches a terminal');
  t.same(JSON.parse(out()), rows);
});
