import t from 'tap';
import { describe, probeCore, SLEEP_MS, summarize } from '../../src/bench/core-stalls.js';

t.test('summarize: stalls of 1 and 2 ms or more per second, and the longest', async (t) => {
  t.same(summarize([1.2, 2, 4.5, 1], 2, 3000), { seconds: 2, wakes: 3000, over1PerSecond: 2, over2PerSecond: 1, longestMs: 4.5 });
  t.same(summarize([], 5, 9000), { seconds: 5, wakes: 9000, over1PerSecond: 0, over2PerSecond: 0, longestMs: 0 });
  t.equal(describe(summarize([1.2, 2, 4.5, 1], 2, 3000)), '1.0/s ≥ 2 ms, 2.0/s ≥ 1 ms (longest 4.5 ms)');
});

t.test('probeCore: every wake-up counted, and a late one noted with its lateness', async (t) => {
  const naps: number[] = [];
  let n = 0;
  // Every 20th sleep takes 3.5 ms instead of 0.5: a wake-up at least 3 ms late.
  const sleep = (ms: number) => {
    naps.push(ms);
    const until = performance.now() + (++n % 20 === 0 ? 3.5 : ms);
    while (performance.now() < until);
  };
  const s = probeCore(0.2, sleep);
  t.ok(naps.every((ms) => ms === SLEEP_MS), 'it asks for SLEEP_MS each time');
  t.equal(s.wakes, naps.length);
  const stalls = Math.floor(s.wakes / 20);
  t.ok(stalls >= 2, `${s.wakes} wake-ups in 0.2 s`);
  t.ok(s.over2PerSecond >= stalls / 0.2, 'each 3.5-ms sleep is a stall of 2 ms or more');
  t.ok(s.longestMs >= 3 && s.longestMs < 100, `longest ${s.longestMs} ms`);
  t.equal(s.seconds, 0.2);
});

t.test('probeCore with its own futex sleep: wakes about every SLEEP_MS', async (t) => {
  const s = probeCore(0.1);
  // 0.1 s of 0.5-ms sleeps is at most 200 wake-ups; timer slack and the wake-up make it fewer.
  t.ok(s.wakes > 20 && s.wakes <= 200, `${s.wakes} wake-ups`);
  t.ok(s.over1PerSecond >= s.over2PerSecond);
});
