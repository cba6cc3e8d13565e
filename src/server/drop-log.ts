/**
 * Dropped datagrams are logged at most `perSecond` times a second (a flood must not become a
 * disk-filling log); metrics count every one. The first line after a quiet spell says how
 * many were left out.
 */
export class RateLimitedLog<T> {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private perSecond: number,
    private readonly write: (item: T, suppressedBefore: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  setRate(perSecond: number): void {
    this.perSecond = perSecond;
  }

  log(item: T): void {
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perSecond) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    const before = this.suppressed;
    this.suppressed = 0;
    this.write(item, before);
  }
}
