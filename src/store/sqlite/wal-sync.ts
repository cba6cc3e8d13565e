/**
 * `store.synchronous = "full"` for the server's group commits (tokens.ts): the WAL is made
 * durable with fdatasync on a libuv thread instead of inside each COMMIT on the event loop.
 *
 * With synchronous = NORMAL a COMMIT in WAL mode writes its frames to the WAL file without
 * syncing them (sqlite.org/pragma.html#pragma_synchronous): a killed process loses nothing, but
 * an OS crash or power loss can undo the last commits, and with them the record that a code was
 * accepted (RFC 4226 §7.2, RFC 6238 §5.2: an HOTP code, which never expires, could then be
 * accepted again). SQLite's FULL syncs the WAL in every COMMIT, ~160 µs here, with the event loop
 * waiting. This syncs the same file after the COMMIT, off the event loop, and one sync covers
 * every commit made before it started, however many batches that was.
 */
import { closeSync, fdatasync as fsFdatasync, fstatSync, openSync } from 'node:fs';

export type Fdatasync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export class WalSync {
  private fd: number | null = null;
  /** The sync under way; it covers only what was written before it started. */
  private current: Promise<void> | null = null;
  /** The sync that starts when `current` ends: it covers everything written until then. */
  private next: Promise<void> | null = null;
  private closed = false;
  /**
   * The first sync that failed. It is final: Linux marks the pages a failed fdatasync could not
   * write as clean and reports the error once, so a later sync would succeed without them (and
   * SQLite's recovery stops at the first frame missing, losing every commit after it too).
   */
  private failed: Error | null = null;

  constructor(
    /** The WAL file: the database's path with `-wal` (sqlite.org/walformat.html). */
    private readonly path: string,
    /** Told once, at the first failed sync: nothing written since can be made durable. */
    private readonly onFailure: (err: Error) => void,
    private readonly fdatasync: Fdatasync = fsFdatasync,
  ) {}

  /**
   * Resolves once everything written to the WAL before the call is on disk; rejects if the sync
   * failed, or any sync before it did.
   */
  after(): Promise<void> {
    if (this.next !== null) return this.next;
    if (this.current === null) return (this.current = this.run());
    const next = this.current
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return (this.current = this.run());
      });
    this.next = next;
    return next;
  }

  /** Closes the file once the sync under way, if any, has ended; later calls of after() reject. */
  close(): void {
    this.closed = true;
    if (this.current === null) this.closeFile();
  }

  /** Starts a sync; it ends (settles, and `current` is cleared) always after the caller stored it. */
  private run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const end = (err: Error | null, failure = true): void => {
        this.current = null;
        if (this.closed && this.next === null) this.closeFile();
        if (err === null) return resolve();
        if (failure && this.failed === null) {
          this.failed = err;
          this.onFailure(err);
        }
        reject(err);
      };
      if (this.failed !== null) return process.nextTick(end, this.failed);
      if (this.closed) return process.nextTick(end, new Error(`cannot sync ${this.path}: the store is closed`), false);
      try {
        // Opened at the first sync: SQLite creates the WAL when the store opens, and keeps this
        // file (the same inode, reset in place) while the server's connection is open.
        const fd = (this.fd ??= openSync(this.path, 'r'));
        this.fdatasync(fd, (err) => end(err === null ? unlinked(fd, this.path) : new Error(`cannot sync ${this.path}: ${err.message}`)));
      } catch (err) {
        const what = this.fd === null ? `open ${this.path} to sync it` : `sync ${this.path}`;
        process.nextTick(end, new Error(`cannot ${what}: ${(err as Error).message}`));
      }
    });
  }

  private closeFile(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * A WAL deleted under the server after this opened it (an administrator, a clean-up script):
 * SQLite goes on writing into the open file and fdatasync succeeds, but no name leads to it, so
 * a restart reads none of it and the codes it records could be accepted again. Null when the
 * file is still linked.
 */
function unlinked(fd: number, path: string): Error | null {
  return fstatSync(fd).nlink === 0 ? new Error(`cannot sync ${path}: it was deleted while the server had it open; what is written to it is in no file a restart reads`) : null;
}
