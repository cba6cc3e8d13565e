/**
 * When a group-commit batch waits for company (commit-pacing.ts): small batches in a fast stream
 * of writes, never a big batch or a slow stream.
 */
import t from 'tap';
import { COMPANY, CommitPacer, WAIT_MS } from '../../src/store/sqlite/commit-pacing.js';

t.test('no wait before the writes are known to come fast', async (t) => {
  const p = new CommitPacer();
  t.equal(p.waitFor(1), 0, 'nothing committed yet');
  p.committed(1, 100);
  t.equal(p.waitFor(1), 0, 'one batch gives no rate');
  p.committed(1, 100);
  t.equal(p.waitFor(1), 0, 'a clock that did not move is no rate either');
});

t.test('a fast stream: small batches wait, big ones do not', async (t) => {
  const p = new CommitPacer();
  for (let i = 0; i <= 20; i++) p.committed(1, i * 0.06); // 16,700 writes/s, one per batch
  t.equal(p.waitFor(1), WAIT_MS);
  t.equal(p.waitFor(COMPANY - 1), WAIT_MS);
  t.equal(p.waitFor(COMPANY), 0, 'a batch that has company commits at once');
});

t.test('a slow stream does not wait, and the rate follows the stream', async (t) => {
  const p = new CommitPacer();
  let now = 0;
  for (let i = 0; i < 20; i++) p.committed(1, (now += 0.5)); // 2,000/s: ~0.3 writes in a wait
  t.equal(p.waitFor(1), 0);
  for (let i = 0; i < 20; i++) p.committed(3, (now += 0.2)); // 15,000/s
  t.equal(p.waitFor(1), WAIT_MS, 'faster: it waits');
  for (let i = 0; i < 20; i++) p.committed(1, (now += 1));
  t.equal(p.waitFor(1), 0, 'slower again: it does not');
});
