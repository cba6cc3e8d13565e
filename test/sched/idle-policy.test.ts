import t from 'tap';
import { Worker } from 'node:worker_threads';
import { currentThreadId, findChrt, parseThreadStat, SCHED_IDLE, SCHED_OTHER, setIdlePolicy, threadsOf } from '../../src/sched/idle-policy.js';

t.test('parseThreadStat reads nice (field 19) and policy (field 41), whatever the command name holds', async (t) => {
  // proc(5): pid (comm) state ppid … ; fields 3 to 52 after the command name.
  const rest = Array.from({ length: 50 }, (_, i) => String(i + 3));
  rest[19 - 3] = '-5';
  rest[41 - 3] = '5';
  t.same(parseThreadStat(42, `42 (a) b (c) ${rest.join(' ')}`), { tid: 42, nice: -5, policy: 5 });
});

t.test("threadsOf: this process's threads, the main thread among them; [] for a process that is not there", async (t) => {
  const mine = threadsOf();
  const main = mine.find((th) => th.tid === process.pid);
  t.ok(main, 'the main thread is listed');
  t.equal(main?.policy, SCHED_OTHER);
  t.same(threadsOf(2 ** 30), []);
  t.equal(currentThreadId(), process.pid, 'on the main thread, its id is the pid');
});

t.test('setIdlePolicy puts a thread of this process under SCHED_IDLE; false without chrt or thread', async (t) => {
  t.ok(findChrt(), "util-linux's chrt is installed");
  // A worker thread that reports its id and then waits to be told to end.
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { readlinkSync } = require('node:fs');
     parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
     parentPort.once('message', () => process.exit(0));`,
    { eval: true },
  );
  const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
  t.not(tid, process.pid);
  t.equal(threadsOf().find((th) => th.tid === tid)?.policy, SCHED_OTHER, 'before');
  t.equal(setIdlePolicy(tid, null), false, 'no chrt');
  t.equal(threadsOf().find((th) => th.tid === tid)?.policy, SCHED_OTHER, 'unchanged');
  t.equal(setIdlePolicy(tid), true);
  t.equal(threadsOf().find((th) => th.tid === tid)?.policy, SCHED_IDLE, 'after');
  t.equal(threadsOf().find((th) => th.tid === process.pid)?.policy, SCHED_OTHER, 'the main thread is left as it was');
  worker.postMessage('end');
  await new Promise((resolve) => worker.once('exit', resolve));
  t.equal(setIdlePolicy(tid), false, 'a thread that has ended');
});

t.test('without /proc/thread-self or chrt, or with a thread ending while listed, nothing throws', async (t) => {
  const fs = await import('node:fs');
  const gone = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
  const mod = await t.mockImport<typeof import('../../src/sched/idle-policy.js')>('../../src/sched/idle-policy.js', {
    'node:fs': {
      ...fs,
      readlinkSync: () => {
        throw gone;
      },
      // Every thread but the main one ends between the listing and the read of its stat.
      readFileSync: (path: string, enc: BufferEncoding) => {
        if (!path.startsWith(`/proc/self/task/${process.pid}/`)) throw gone;
        return fs.readFileSync(path, enc);
      },
    },
  });
  t.equal(mod.currentThreadId(), null);
  const noChrt = await t.mockImport<typeof import('../../src/sched/idle-policy.js')>('../../src/sched/idle-policy.js', {
    'node:fs': { ...fs, existsSync: () => false },
  });
  t.equal(noChrt.findChrt(), null, 'no chrt anywhere');
  t.equal(noChrt.setIdlePolicy(process.pid), false, 'so nothing is moved');
  t.same(
    mod.threadsOf().map((th) => th.tid),
    [process.pid],
  );
});
