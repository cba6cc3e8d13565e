import t from 'tap';
import { median, openLoopSeconds, pairRatios, papUser, percentiles, serialOf, TARGET_SHARE_OF_FREERADIUS, tokenSecret, tokenUser } from '../../src/bench/common.js';

t.test('percentiles are nearest-rank over the sorted values', async (t) => {
  t.same(percentiles([5, 1, 4, 2, 3], [0, 20, 50, 99, 100]), [1, 1, 3, 5, 5]);
  t.same(percentiles(Float64Array.from([0.25, 0.5]), [50, 90]), [0.25, 0.5]);
  t.ok(percentiles([], [50]).every(Number.isNaN), 'no values: NaN');
});

t.test('bench names and secrets are derived from the index alone', async (t) => {
  t.equal(tokenUser(7), 'u7');
  t.equal(papUser(7), 'p7');
  t.equal(serialOf(7), 'B0000007');
  t.equal(tokenSecret(7).length, 20, 'a 20-byte key (RFC 4226 R6: at least 16)');
  t.same(tokenSecret(7), tokenSecret(7), 'the same in every process');
  t.notSame(tokenSecret(7), tokenSecret(8));
});

t.test('alternated pairs: each ratio in run order, and their median', async (t) => {
  t.same(pairRatios([[9, 10], [12, 10], [10, 10]]), { ratios: [0.9, 1.2, 1], median: 1 }, 'odd count: the middle one');
  t.same(pairRatios([[8, 10], [12, 10], [9, 10], [10, 10]]).median, 0.95, 'even count: the mean of the middle two');
  t.ok(Number.isNaN(pairRatios([]).median), 'no pairs: NaN');
  t.equal(TARGET_SHARE_OF_FREERADIUS.toFixed(4), '0.9167', '22,000 against ~24,000');
});

t.test('median: by value, not by order; the input is left as it was', async (t) => {
  const runs = [3.11, 1.48, 1.78];
  t.equal(median(runs), 1.78, 'odd count: the middle value');
  t.same(runs, [3.11, 1.48, 1.78], 'not sorted in place');
  t.equal(median([2, 10, 1, 3]), 2.5, 'even count: the mean of the middle two');
  t.equal(median([10, 9, 100, 1, 2]), 9, 'numbers, not strings: 100 sorts last');
  t.equal(median([4]), 4);
  t.ok(Number.isNaN(median([])), 'none: NaN');
});

t.test('open-loop seconds: shortened where the users would run out, never below one', async (t) => {
  t.equal(openLoopSeconds(3_000, 100_000, 8, 1), 8, 'a tenth of max: the whole run fits');
  t.equal(openLoopSeconds(15_060, 100_000, 8, 1), 5.3, '100,000 users at 15,060/s with a second of warm-up');
  const s = openLoopSeconds(15_060, 100_000, 8, 1);
  t.ok(15_060 * (s + 1) * 1.02 <= 100_000, 'the codes the generator builds in advance fit the users');
  t.equal(openLoopSeconds(1_000_000, 100_000, 8, 1), 1);
});
