/** This test process's file size limit, lowered for a test: a disk that fills up, without root. */
import { execFileSync } from 'node:child_process';

/**
 * Lowers this process's file size limit (RLIMIT_FSIZE, with prlimit) until the returned function
 * or the test's end: a write that reaches `bytes` is cut short there and the next one fails
 * (EFBIG), as on a disk that fills up in the middle of a write. Node ignores the SIGXFSZ that
 * comes with it, but tap's exit handler (signal-exit) would die of it unless someone listens.
 * Every regular file the process writes is held to it: keep the test's other files smaller.
 */
export function limitFileSize(t: Tap.Test, bytes: number): () => void {
  const ignore = () => {};
  process.on('SIGXFSZ', ignore);
  t.teardown(() => void process.off('SIGXFSZ', ignore));
  const pid = String(process.pid);
  const before = execFileSync('prlimit', ['--pid', pid, '--fsize', '--raw', '--noheadings', '--output=SOFT'], { encoding: 'utf8' }).trim();
  execFileSync('prlimit', ['--pid', pid, `--fsize=${bytes}:`]);
  let restored = false;
  const restore = () => {
    if (!restored) execFileSync('prlimit', ['--pid', pid, `--fsize=${before}:`]);
    restored = true;
  };
  t.teardown(restore);
  return restore;
}
