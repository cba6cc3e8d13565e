/**
 * The audit log: one JSON line per AuditEvent, fields in the order of event.ts, written through
 * winston and winston-daily-rotate-file into one file per UTC day (naming in files.ts), every line
 * through redact() (redact.ts).
 *
 * - record() turns the event into its line at once (decisionLine for a decision, ~0.5 µs) and
 *   adds it to the batch; in a microtask after the first of a batch, the batch goes to winston as
 *   one message, so the file gets the lines of a whole group commit per write(). Line by line (a
 *   winston log call, its format pipeline and a thread-pool hand-off per decision) the audit log
 *   cost the server about 60 µs per request at 4,000 requests/s.
 * - The line is in the file before the reply leaves: the handler records a decision before it
 *   returns the reply, and the microtask that writes the batch is queued ahead of the send (the
 *   caller's reaction to that return). A kill -9 after an Access-Accept went out no longer loses
 *   its audit line (it did with a 5-ms batch timer). While a file is being opened (at start, on
 *   reopen, at UTC midnight) lines wait in the file stream, and are written once it is open.
 * - A file that cannot be written (disk full, a write fault, an open that fails) does not stop the
 *   server: an audit fault must not become a VPN outage. The reply still leaves; its line is lost,
 *   counted (onLost: radius_audit_lines_lost_total) and reported at most once a second with the
 *   count since the last report. The next batch is tried again, so lines land once there is room.
 * - The file's writes are made on the event loop (syncWrites), as the store's commits are: one
 *   write() of a batch (~20 KB at 16,700 decisions/s) takes ~15 µs. Handed to libuv's thread
 *   pool instead, each woke a pool thread on the server's core about 200 times a second, and
 *   each such wake-up preempted the event loop; Linux (EEVDF, since 6.6) then sometimes gave the
 *   core to one of the server's low-priority helper threads until the next tick, up to 4 ms at
 *   250 Hz, while requests waited. Put the audit log on a local disk, as the store.
 * - If the current file is deleted or renamed underneath (an administrator, logrotate), the sink
 *   notices within checkIntervalMs (or at once on reopen(), e.g. on SIGHUP) and the next lines go
 *   to a new file of the same name. Lines already queued go to the old one.
 * - close() resolves when every recorded line has been written to the file.
 * - retentionDays > 0: dated files more than that many days older than the file being opened are
 *   deleted by name (pruneAuditFiles, files.ts), at start and when a new day's file is opened.
 */
import { close, closeSync, fstat, fstatSync, mkdirSync, open, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { AuditEvent, AuditSink } from './event.js';
import { auditFileNames, pruneAuditFiles } from './files.js';
import { redactObject, scrub, setOwn } from './redact.js';

export interface AuditLogOptions {
  /** The configured path ([log] audit); '' disables the audit log. */
  file: string;
  /** Days of dated files to keep; 0 keeps them all. */
  retentionDays: number;
  /** How often to check that the current file still exists (ms). Default 1000. */
  checkIntervalMs?: number;
  /**
   * Where faults go; default: one JSON line on stderr. A fault that loses lines (a write, or the
   * file's open) is reported at most once a second, with linesLost: how many since the last
   * report (field lines_lost; not in the message, where scrub() would mask 6 to 8 digits).
   */
  onError?: (err: Error, linesLost?: number) => void;
  /** Lines that could not be written (disk full, a write fault, a file that cannot be opened): the metric. */
  onLost?: (lines: number) => void;
}

export interface AuditLog extends AuditSink {
  /** Close the current file and open it again by name (SIGHUP, after an outside rotation). */
  reopen(): void;
  /** Reopen now if the current file was deleted or replaced; resolves true when it reopened. */
  checkFile(): Promise<boolean>;
}

/** Field order of each event type (event.ts); fields not listed follow in their own order. */
const FIELD_ORDER: Record<AuditEvent['event'], readonly string[]> = {
  decision: [
    'event',
    'time',
    'server',
    'server_ip',
    'client',
    'client_ip',
    'user',
    'calling_station_id',
    'nas_identifier',
    'mode',
    'token_serial',
    'result',
    'reason',
  ],
  drop: ['event', 'time', 'server', 'server_ip', 'client', 'client_ip', 'reason'],
};
/** The lines in a piece of the batch (each ends in "\n"). */
function countLines(text: Buffer): number {
  let n = 0;
  for (let i = text.indexOf(0x0a); i !== -1; i = text.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** Whether the file ends in part of a line (a write cut short, a crash): its last byte is not "\n". */
function endsMidLine(fd: number): boolean {
  const { size } = fstatSync(fd);
  const last = Buffer.alloc(1);
  return size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
}

/**
 * The file stream's system calls (fs.createWriteStream's `fs` option): open and close as usual,
 * on the thread pool, once per file; write() on the calling thread (see the top of this file).
 *
 * - A short write (the disk filled up in the middle of a batch) is continued here until the system
 *   says why it cannot go on (ENOSPC). Left to Node's retry, which reads the buffer from the
 *   callback, it threw a TypeError that took the server down.
 * - A record never starts after part of a line, whether a fault cut the last write short or the
 *   file was opened that way (written by a process that died, or before the disk filled up): the
 *   first write after it starts with "\n", so the fragment is one malformed line that `report`
 *   counts and skips, and the record stays intact. Known per descriptor from its first write.
 * - A write that fails is not the stream's error: the stream would be destroyed and every line
 *   after it dropped unseen. `lost` is told the error and how many lines were not written (the
 *   cut line included), and the next batch is tried again: once the disk has room, lines land.
 */
function syncWrites(lost: (err: Error, lines: number) => void) {
  /** Per open descriptor: true when its file ends in part of a line. */
  const midLine = new Map<number, boolean>();
  return {
    open,
    close(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void {
      midLine.delete(fd);
      close(fd, callback);
    },
    write(
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      _position: number | null,
      callback: (err: NodeJS.ErrnoException | null, written?: number, buffer?: Buffer) => void,
    ): void {
      let done = 0;
      try {
        if (midLine.get(fd) ?? endsMidLine(fd)) writeSync(fd, '\n');
        midLine.set(fd, false);
        // Appending (flags "a+"): each write goes to the end, whatever the stream's position.
        for (let n = -1; n !== 0 && done < length; done += n) n = writeSync(fd, buffer, offset + done, length - done);
      } catch (err) {
        if (done > 0) midLine.set(fd, buffer[offset + done - 1] !== 0x0a);
        lost(err as Error, countLines(buffer.subarray(offset + done, offset + length)));
        done = length;
      }
      callback(null, done, buffer);
    },
  };
}
/** winston's key for the formatted line (triple-beam MESSAGE). */
const MESSAGE = Symbol.for('message');
const NOT_FIELDS = new Set(['level', 'message']);

// Maps, not object lookups: an `event` such as "toString" must not find Object.prototype.
const ORDER = new Map<string, readonly string[]>(Object.entries(FIELD_ORDER));
const KNOWN = new Map<string, ReadonlySet<string>>(Object.entries(FIELD_ORDER).map(([event, fields]) => [event, new Set([...fields, ...NOT_FIELDS])]));

/** JSON line of the event fields only (not winston's level and message), in event.ts order. */
export function auditLine(info: Record<string, unknown>): string {
  const order = ORDER.get(info.event as string) ?? [];
  const known = KNOWN.get(info.event as string) ?? NOT_FIELDS;
  const out: Record<string, unknown> = {};
  for (const k of order) if (info[k] !== undefined) out[k] = info[k];
  for (const k of Object.keys(info)) if (!known.has(k)) setOwn(out, k, info[k]);
  return JSON.stringify(out);
}

/** What JSON.stringify escapes in a string (quote, backslash, controls, lone surrogates); any surrogate takes that path. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * The line of an event that is exactly its listed fields, all strings: auditLine(redactObject(e))
 * without the generic walk (~1.5 µs a decision at 20,000/s). For such an event redaction changes
 * nothing — no listed field name is secret (a test holds FIELD_ORDER to isSecretKey), a string is
 * never a buffer, and the audit log is given no known secrets — so the line is the same (a test
 * compares the two). Anything else (another type, a field not listed) returns null: generic path.
 */
export function plainLine(e: AuditEvent): string | null {
  const order = ORDER.get(e.event);
  if (order === undefined) return null;
  const fields = e as unknown as Record<string, unknown>;
  let line = '';
  let present = 0;
  for (const k of order) {
    const v = fields[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') return null;
    line += `${present === 0 ? '{' : ','}"${k}":${NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`}`;
    present++;
  }
  let own = 0;
  for (const k in fields) if (Object.hasOwn(fields, k) && fields[k] !== undefined) own++;
  return own === present ? `${line}}` : null;
}

/** A JSON string literal, as JSON.stringify(s) writes it. */
const jsonString = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * plainLine of a decision, without its loop over FIELD_ORDER (~0.5 µs a decision against ~1.3):
 * the same line (a test compares the two), or null when the event is not a decision with exactly
 * its fields, all strings, whereupon plainLine decides.
 */
export function decisionLine(e: AuditEvent): string | null {
  if (e.event !== 'decision') return null;
  const fields = e as unknown as Record<string, unknown>;
  let own = 0;
  for (const k in fields) if (Object.hasOwn(fields, k) && fields[k] !== undefined) own++;
  const { time, server, server_ip, client, client_ip, user, calling_station_id, nas_identifier, mode, token_serial, result, reason } = fields;
  if (
    typeof time !== 'string' ||
    typeof server !== 'string' ||
    typeof server_ip !== 'string' ||
    typeof client !== 'string' ||
    typeof client_ip !== 'string' ||
    typeof user !== 'string' ||
    typeof calling_station_id !== 'string' ||
    typeof nas_identifier !== 'string' ||
    typeof mode !== 'string' ||
    typeof token_serial !== 'string' ||
    typeof result !== 'string' ||
    (reason !== undefined && typeof reason !== 'string') ||
    own !== (reason === undefined ? 12 : 13)
  ) {
    return null;
  }
  return (
    `{"event":"decision","time":${jsonString(time)},"server":${jsonString(server)},"server_ip":${jsonString(server_ip)},` +
    `"client":${jsonString(client)},"client_ip":${jsonString(client_ip)},"user":${jsonString(user)},` +
    `"calling_station_id":${jsonString(calling_station_id)},"nas_identifier":${jsonString(nas_identifier)},` +
    `"mode":${jsonString(mode)},"token_serial":${jsonString(token_serial)},"result":${jsonString(result)}` +
    `${reason === undefined ? '' : `,"reason":${jsonString(reason)}`}}`
  );
}

/** The line of any event (redacted, redact.ts), by the quickest path that applies. */
export function eventLine(e: AuditEvent): string {
  return decisionLine(e) ?? plainLine(e) ?? auditLine(redactObject(e as unknown as Record<string, unknown>, { scrubText: false }));
}

/**
 * The winston info of one batch: its lines, joined by newlines, are the transport's message (the
 * transport adds the last newline).
 */
interface BatchInfo {
  level: 'info';
  message: '';
  lines: string;
}

const batchFormat = winston.format((info) => {
  (info as Record<string | symbol, unknown>)[MESSAGE] = (info as unknown as BatchInfo).lines;
  return info;
});

interface Handle {
  transport: DailyRotateFile;
  /** The dated file being written, once known. */
  file: string;
  ino: number | undefined;
  dev: number | undefined;
  broken: boolean;
  /** The stream's own error (the file could not be opened): it takes no more lines. */
  failed: Error | undefined;
  /** Whether the file being written is open; lines handed over before are waiting in the stream. */
  open: boolean;
  waiting: number;
  /** Resolves when the file stream has finished (every line written). */
  flushed: Promise<void>;
  close(): void;
}

/** The parts of winston-daily-rotate-file's internal stream we rely on (v5). */
interface RotatingStream {
  on(event: 'open', fn: (fd: number) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  end(cb: () => void): void;
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** At most one report of lost lines a second. */
const REPORT_MS = 1000;

function defaultOnError(err: Error, linesLost?: number): void {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: scrub(`audit log: ${err.message}`), lines_lost: linesLost, timestamp: new Date().toISOString() })}\n`);
}

/**
 * Throws the file system's error (ENOTDIR, EACCES, EROFS…) when the audit log cannot be written:
 * its directory cannot be made, or today's file cannot be opened to append to. The server checks
 * this before it starts.
 */
export function checkAuditWritable(file: string): void {
  if (file === '') return; // disabled
  const names = auditFileNames(file);
  try {
    mkdirSync(names.dir, { recursive: true });
  } catch (err) {
    // A file where the directory should be: opening in it says so (ENOTDIR).
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  closeSync(openSync(names.forDate(new Date().toISOString().slice(0, 10)), 'a', 0o640));
}

export function createAuditLog(opts: AuditLogOptions): AuditLog {
  if (opts.file === '') return Object.assign(nullAuditSink(), { reopen() {}, checkFile: async () => false });
  const names = auditFileNames(opts.file);
  const onError = opts.onError ?? defaultOnError;
  const logger = winston.createLogger({
    level: 'info',
    format: batchFormat(),
    exitOnError: false,
  });
  logger.on('error', (err: Error) => onError(err));
  const onLost = opts.onLost ?? (() => {});

  // Lost lines are counted at once (onLost) and reported at most once a second, each report
  // saying how many since the last: a full disk fails every batch, thousands a second.
  let unreported: { err: Error; lines: number } | undefined;
  let reportedAt = -Infinity;
  /** The report held back until a second after the last one. */
  let held: NodeJS.Timeout | undefined;
  const report = (): void => {
    clearTimeout(held);
    held = undefined;
    if (unreported === undefined) return;
    onError(unreported.err, unreported.lines);
    unreported = undefined;
    reportedAt = Date.now();
  };
  const lost = (err: Error, lines: number): void => {
    onLost(lines);
    unreported = { err, lines: (unreported?.lines ?? 0) + lines };
    const wait = reportedAt + REPORT_MS - Date.now();
    if (wait <= 0) report();
    else held ??= setTimeout(report, wait).unref();
  };

  /** Retention, from the day of the file being opened; close() waits for it. */
  let pruned = Promise.resolve();
  const prune = (day: string): void => {
    if (opts.retentionDays > 0) pruned = pruned.then(() => pruneAuditFiles(opts.file, opts.retentionDays, day, onError)).catch(onError);
  };

  let generation = 0;
  const open = (): Handle => {
    const gen = ++generation;
    const transport = new DailyRotateFile({
      filename: join(names.dir, names.pattern),
      datePattern: 'YYYY-MM-DD',
      utc: true,
      createSymlink: true,
      symlinkName: names.base,
      // a+: appends, and reads the file's last byte (endsMidLine).
      options: {
        flags: 'a+',
        mode: 0o640,
        // Not broken: reopening gives a full disk no room (and on one, the symlink could not be
        // made again); a file deleted or replaced underneath is still noticed by checkFile.
        fs: syncWrites((err, lines) => lost(new Error(`${err.message} '${h.file}'`), lines)),
      },
    });
    const stream = (transport as unknown as { logStream: RotatingStream }).logStream;
    let done!: () => void;
    let ended = false;
    const h: Handle = {
      transport,
      file: '',
      ino: undefined,
      dev: undefined,
      broken: false,
      failed: undefined,
      open: false,
      waiting: 0,
      flushed: new Promise<void>((resolve) => (done = resolve)),
      // winston calls close() when the transport is removed or the logger ends; end the file
      // stream once, and let flushed resolve when it has written everything.
      close: () => {
        if (ended) return;
        ended = true;
        stream.end(() => done());
      },
    };
    transport.close = h.close;
    // 'new': the transport starts (or, at UTC midnight, rotates to) a file it has still to open.
    transport.on('new', (file: string) => {
      h.file = file;
      h.ino = h.dev = undefined;
      h.open = false;
      prune(names.dateOf(basename(file)) as string);
    });
    stream.on('open', (fd) => {
      h.open = true;
      h.waiting = 0;
      fstat(fd, (err, st) => {
        if (err === null && gen === generation) ({ ino: h.ino, dev: h.dev } = st);
      });
    });
    // The file could not be opened (a write's fault goes to lost() instead): the lines waiting
    // for it are lost, and so are those recorded until the next check reopens it.
    stream.on('error', (err) => {
      h.broken = true;
      h.failed = err;
      lost(err, h.waiting);
      h.waiting = 0;
    });
    return h;
  };

  let current = open();
  logger.add(current.transport);
  const retired: Promise<void>[] = [];
  let closing: Promise<void> | undefined;

  /** The batch's lines, newline-separated, in order of record(); '' when empty. */
  let pending = '';
  let pendingLines = 0;
  /** Hands the batch to winston (which writes it at once: syncWrites). */
  const flush = (): void => {
    const lines = pending;
    const n = pendingLines;
    pending = '';
    pendingLines = 0;
    if (n === 0) return;
    const h = current;
    if (h.failed !== undefined) {
      lost(h.failed, n);
      return;
    }
    logger.log({ level: 'info', message: '', lines } satisfies BatchInfo);
    if (!h.open) h.waiting += n;
  };

  const reopen = (): void => {
    if (closing !== undefined) return;
    flush(); // events recorded before the reopen belong to the old file
    const old = current;
    current = open();
    logger.add(current.transport);
    logger.remove(old.transport);
    old.close();
    retired.push(old.flushed);
  };

  const checkFile = async (): Promise<boolean> => {
    const h = current;
    if (closing !== undefined || (h.ino === undefined && !h.broken)) return false;
    // On the event loop, as the writes are (no thread-pool wake-up); once a second.
    const st = statOrUndefined(h.file);
    if (h.broken || st === undefined || st.ino !== h.ino || st.dev !== h.dev) {
      reopen();
      return true;
    }
    return false;
  };

  const timer = setInterval(() => void checkFile(), opts.checkIntervalMs ?? 1000);
  timer.unref();

  return {
    record(event: AuditEvent): void {
      if (closing !== undefined) return;
      const line = eventLine(event);
      // The first line of a batch queues its write; reopen() and close() may write it sooner.
      if (pendingLines++ === 0) {
        pending = line;
        queueMicrotask(flush);
      } else {
        pending = `${pending}\n${line}`;
      }
    },
    reopen,
    checkFile,
    close(): Promise<void> {
      if (closing === undefined) flush();
      closing ??= (async () => {
        clearInterval(timer);
        await new Promise<void>((resolve) => {
          logger.once('finish', resolve);
          logger.end();
        });
        current.close();
        await Promise.all([current.flushed, ...retired, pruned]);
        report();
      })();
      return closing;
    },
  };
}

/** Discards every event (audit disabled, or a test that does not look). */
export function nullAuditSink(): AuditSink {
  return { record() {}, close: async () => {} };
}

/** Keeps events in memory, for tests. */
export function memoryAuditSink(): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record(event) {
      events.push(event);
    },
    close: async () => {},
  };
}
