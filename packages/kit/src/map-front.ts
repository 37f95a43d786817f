/**
 * The first key of a Map used as a FIFO (insert at the back, evict at the front): what `map.keys().next()`
 * answers, at O(1) amortized.
 *
 * Why not `keys().next()`: JavaScriptCore's Map keeps a deleted entry's slot until it rehashes, and a new
 * iterator steps over those slots one by one. A map that evicts its first key on every insert deletes at the
 * front, so "the first key" costs more with every eviction: 19-28 µs at 10,000 entries, and 14 → 88 µs (still
 * growing) at 200,000 (BENCHMARKS.md). One iterator kept from call to call steps over each slot once. A Map
 * iterator follows the map as it changes: keys added later (and keys deleted and set again) come after the
 * ones before them, deleted keys are skipped, so it always answers the map's own order.
 *
 * The caller deletes the key it is given before it asks again (the iterator has passed it). An iterator holds
 * the table it is on until it moves on, and a map that shrinks rehashes to a smaller one, so the iterator is
 * let go once the map is well below its bound (measured: 26 MB of a 200,000-entry table kept by an idle one).
 */
export class MapFront<K> {
  private keys: Iterator<K> | undefined;

  constructor(
    private readonly map: Map<K, unknown>,
    /** Entries the map may hold: `over()` names the oldest past it. */
    private readonly bound: number,
  ) {}

  /**
   * After an insert: the oldest key if the map holds more than its bound (delete it, and ask again while
   * there are more), or undefined. Below 90 % of the bound it lets the iterator go.
   */
  over(): K | undefined {
    if (this.map.size > this.bound) return this.first();
    if (this.map.size < this.bound * 0.9) this.release();
    return undefined;
  }

  /** The map's first key (undefined when it is empty); delete it before asking again. */
  first(): K | undefined {
    if (this.map.size === 0) return undefined;
    this.keys ??= this.map.keys();
    let next = this.keys.next();
    // An iterator that reached the end stays there: a map refilled since needs a new one.
    if (next.done) {
      this.keys = this.map.keys();
      next = this.keys.next();
    }
    return next.done ? undefined : next.value;
  }

  /** Lets the iterator go (the next `first()` starts a new one at the front). */
  release(): void {
    this.keys = undefined;
  }
}
