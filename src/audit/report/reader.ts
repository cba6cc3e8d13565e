/**
 * Streams the lines of audit files, one file after the other, without holding more than one
 * read chunk and one partial line in memory. A line longer than MAX_LINE is skipped (reported
 * as a malformed line) rather than buffered without bound.
 */
import { createReadStream } from 'node:fs';
import type { AuditFile } from '../files.js';

export const MAX_LINE = 64 * 1024;
const CHUNK = 1024 * 1024;

export interface LineSink {
  /** A complete line, without its line ending (never empty). */
  line(text: string): void;
  /** A line over MAX_LINE bytes was skipped. */
  tooLong(): void;
}

/**
 * Calls sink.line for every non-empty line of the files, in order. onProgress gets the bytes read
 * so far and the files' total size (as listed; a file still growing can read past it).
 */
export async function readLines(
  files: readonly AuditFile[],
  sink: LineSink,
  onProgress?: (read: number, total: number) => void,
  chunkSize = CHUNK,
): Promise<void> {
  const total = files.reduce((n, f) => n + f.size, 0);
  let read = 0;
  for (const file of files) {
    let rest: Buffer | null = null;
    let skipping = false;
    const emit = (buf: Buffer, start: number, end: number): void => {
      if (end > start && buf[end - 1] === 0x0d) end--;
      if (end > start) sink.line(buf.toString('utf8', start, end));
    };
    for await (const chunk of createReadStream(file.path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
      read += chunk.length;
      let pos = 0;
      for (let nl = chunk.indexOf(0x0a, pos); nl !== -1; nl = chunk.indexOf(0x0a, pos)) {
        if (skipping) skipping = false;
        else if (rest !== null) {
          const line = Buffer.concat([rest, chunk.subarray(pos, nl)]);
          if (line.length > MAX_LINE) sink.tooLong();
          else emit(line, 0, line.length);
        } else if (nl - pos > MAX_LINE) sink.tooLong();
        else emit(chunk, pos, nl);
        rest = null;
        pos = nl + 1;
      }
      if (pos < chunk.length && !skipping) {
        rest = rest === null ? Buffer.from(chunk.subarray(pos)) : Buffer.concat([rest, chunk.subarray(pos)]);
        if (rest.length > MAX_LINE) {
          sink.tooLong();
          rest = null;
          skipping = true;
        }
      }
      onProgress?.(read, total);
    }
    // A last line without its newline (a file copied mid-write, or edited by hand).
    if (rest !== null) emit(rest, 0, rest.length);
  }
}
