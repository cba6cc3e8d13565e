import t from 'tap';
import { nextWait, type Pacing } from '../../src/store/sqlite/checkpoint-pacing.js';

const pacing: Pacing = { idleMs: 100, busyMs: 5, lazyMs: 50, busyFrames: 64 };
const result = (log: number, checkpointed: number) => ({ busy: 0, log, checkpointed });

t.test('nothing new: idle; few frames copied: lazy; many: busy', async (t) => {
  const state = { checkpointed: 0 };
  t.equal(nextWait(pacing, state, undefined), 100);
  t.equal(nextWait(pacing, state, result(20, 20)), 50, '20 frames');
  t.equal(nextWait(pacing, state, result(100, 100)), 5, '80 more');
  t.equal(nextWait(pacing, state, result(160, 160)), 50, '60 more');
  t.equal(nextWait(pacing, state, result(224, 224)), 5, 'exactly busyFrames more');
  t.equal(state.checkpointed, 224);
  t.equal(nextWait(pacing, state, undefined), 100, 'idle keeps the count');
  t.equal(state.checkpointed, 224);
});

t.test('the WAL started over since the last pass: everything copied is this pass\'s', async (t) => {
  const state = { checkpointed: 3000 };
  t.equal(nextWait(pacing, state, result(70, 70)), 5, '70 frames of a new WAL');
  t.equal(state.checkpointed, 70);
  t.equal(nextWait(pacing, { checkpointed: 3000 }, result(10, 10)), 50);
  t.equal(nextWait(pacing, state, result(120, 90)), 50, 'a pass that could not copy all (a writer appended meanwhile) counts what it copied');
});
