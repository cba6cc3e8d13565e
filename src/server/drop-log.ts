/**
 * Dropped datagrams are logged at most `perSecond` times a second per source (a client name, or
 * '' for unknown addresses): a flood must not become a disk-filling log, nor hide another
 * source's drops. Metrics count every one. What is left out is counted by source and kind (a
 * drop's reason), and the count goes on a line of that source and kind as `suppressed`: the next
 * one logged, or the last one left out, written by flush() once its second is over. So a line
 * stands for 1 + suppressed items, and the lines add up to all of them.
 */
interface Left<T> {
  count: number;
  /** The last one left out (the one flush() writes). */
  last: T | null;
}

/** What `left` counted, which it then forgets; its last item is passed to `use` if there is one. */
function takeCount<T>(left: Left<T>, use: (last: T, count: number) => void = () => {}): number {
  const { count, last } = left;
  left.count = 0;
  left.last = null;
  if (count > 0) use(last as T, count);
  return count;
}

interface Source<T> {
  windowStart: number;
  inWindow: number;
  /** By kind. Entries go back to 0 rather than away (kinds are a closed set). */
  left: Map<string, Left<T>>;
}

export class RateLimitedLog<T> {
  /** Sources seen in the last second or so: flush() forgets the quiet ones. */
  private readonly sources = new Map<string, Source<T>>();

  constructor(
    private perSecond: number,
    private readonly write: (item: T, suppressedBefore: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  setRate(perSecond: number): void {
    this.perSecond = perSecond;
  }

  log(source: string, kind: string, item: T): void {
    const now = this.now();
    let s = this.sources.get(source);
    if (s === undefined) this.sources.set(source, (s = { windowStart: now, inWindow: 0, left: new Map() }));
    else if (now - s.windowStart >= 1000) {
      s.windowStart = now;
      s.inWindow = 0;
    }
    const left = s.left.get(kind);
    if (s.inWindow >= this.perSecond) {
      if (left === undefined) s.left.set(kind, { count: 1, last: item });
      else {
        left.count++;
        left.last = item;
      }
      return;
    }
    s.inWindow++;
    this.write(item, left === undefined ? 0 : takeCount(left));
  }

  /**
   * Writes what each source left out once its second is over (a flood that stops is still
   * counted), and forgets sources with nothing left; `all` writes everything now (at stop).
   */
  flush(all = false): void {
    const now = this.now();
    for (const [source, s] of this.sources) {
      if (!all && now - s.windowStart < 1000) continue;
      for (const left of s.left.values()) takeCount(left, (last, n) => this.write(last, n - 1));
      this.sources.delete(source);
    }
  }
}
