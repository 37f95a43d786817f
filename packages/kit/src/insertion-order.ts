/**
 * The order in which a map's entries were (last) set, for evicting the oldest: what `map.keys().next()`
 * answers, at O(1) amortized instead of O(entries deleted since the map last rehashed).
 *
 * Why not `keys().next()`: JavaScriptCore's Map keeps a deleted entry's slot until it rehashes, and an
 * iterator steps over those slots one by one. A bounded map that evicts its first key on every insert (a
 * FIFO at its bound) deletes at the front, so "the first key" costs more with every eviction: 19-28 µs at
 * 10,000 entries and 14 → 88 µs (still growing) at 200,000 in BENCHMARKS.md's measurement, per insert.
 *
 * Each entry is recorded with a stamp (the value it was set to, or anything that changes when it is set
 * again); the caller says whether a recorded (key, stamp) is still the map's current entry. Records that
 * are not (deleted, or set again later) are skipped once and dropped, and the record is rebuilt from the
 * map (O(map), once per map/16 inserts) when they pass a sixteenth of it: a stale record holds its key alive,
 * so the keys it holds beyond the map's own are at most a sixteenth of them.
 */
export class InsertionOrder<K, S> {
  private keys: K[] = [];
  private stamps: S[] = [];
  private head = 0;

  /** Records, oldest first, including stale ones not yet dropped. */
  get length(): number {
    return this.keys.length - this.head;
  }

  /** `key` was set (again) to an entry stamped `stamp`: it is now the newest. */
  add(key: K, stamp: S): void {
    this.keys.push(key);
    this.stamps.push(stamp);
  }

  /** The oldest key whose record is live (`isLive`), or undefined; stale records before it are dropped. */
  oldest(isLive: (key: K, stamp: S) => boolean): K | undefined {
    while (this.head < this.keys.length) {
      const key = this.keys[this.head] as K;
      if (isLive(key, this.stamps[this.head] as S)) return key;
      this.head += 1;
    }
    this.compact();
    return undefined;
  }

  /**
   * When stale records pass a sixteenth of the `live` entries (plus some slack), starts again from `entries`, which
   * must list the map's entries oldest first (a Map's own iteration: paid once, not per eviction).
   */
  trim(live: number, entries: () => Iterable<readonly [K, S]>): void {
    if (this.head >= 1024 && this.head * 16 > this.keys.length) this.compact();
    if (this.length <= live + (live >> 4) + 64) return;
    this.keys = [];
    this.stamps = [];
    this.head = 0;
    for (const [key, stamp] of entries()) this.add(key, stamp);
  }

  clear(): void {
    this.keys = [];
    this.stamps = [];
    this.head = 0;
  }

  /** Drops the records already passed over. */
  private compact(): void {
    this.keys = this.keys.slice(this.head);
    this.stamps = this.stamps.slice(this.head);
    this.head = 0;
  }
}
