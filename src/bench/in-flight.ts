/**
 * The load generator's requests in flight, by socket and RADIUS identifier (key = socket × 256 +
 * identifier): a fixed array of slots rather than a Map. A long-lived Map that is set and deleted
 * at every request rehashes its table straight into old space; in the generator that kept
 * incremental marking running and made every scavenge a 1.5-2 ms pause, which showed in every
 * server's p99 (see src/server/handler.ts pendingByClient for the same effect in the server).
 */
export class InFlightTable<T> {
  private readonly slots: Array<T | undefined>;
  private count = 0;

  constructor(sockets: number) {
    this.slots = new Array<T | undefined>(sockets * 256).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): T | undefined {
    return this.slots[key];
  }

  has(key: number): boolean {
    return this.slots[key] !== undefined;
  }

  /** Puts `value` in a free slot; a slot in use is a bug in the caller. */
  set(key: number, value: T): void {
    if (this.slots[key] !== undefined) throw new Error(`request slot ${key} is already in flight`);
    this.slots[key] = value;
    this.count++;
  }

  delete(key: number): void {
    if (this.slots[key] === undefined) return;
    this.slots[key] = undefined;
    this.count--;
  }

  /** Every request in flight, with its key (deleting the current one while iterating is safe). */
  *entries(): Generator<[number, T]> {
    for (let key = 0; key < this.slots.length; key++) {
      const value = this.slots[key];
      if (value !== undefined) yield [key, value];
    }
  }
}
