import t from 'tap';
import { InFlightTable } from '../../src/bench/in-flight.js';

t.test('slots by socket and identifier: set, get, has, delete, size', async (t) => {
  const table = new InFlightTable<string>(2);
  t.equal(table.size, 0);
  table.set(0, 'first');
  table.set(2 * 256 - 1, 'last');
  t.equal(table.size, 2);
  t.equal(table.get(0), 'first');
  t.ok(table.has(511));
  t.notOk(table.has(1));
  t.equal(table.get(1), undefined);
  t.throws(() => table.set(0, 'again'), /slot 0 is already in flight/, 'a slot in use is not overwritten');
  t.equal(table.get(0), 'first');
  table.delete(0);
  table.delete(0);
  t.equal(table.size, 1, 'deleting a free slot changes nothing');
  t.notOk(table.has(0));
  table.set(0, 'reused');
  t.equal(table.get(0), 'reused');
});

t.test('entries: every request in flight in key order, deletable while iterating', async (t) => {
  const table = new InFlightTable<number>(1);
  for (const key of [200, 3, 77]) table.set(key, key * 10);
  const seen: Array<[number, number]> = [];
  for (const [key, value] of table.entries()) {
    seen.push([key, value]);
    table.delete(key);
  }
  t.same(seen, [
    [3, 30],
    [77, 770],
    [200, 2000],
  ]);
  t.equal(table.size, 0);
  t.same([...table.entries()], []);
});
