/**
 * The parts of the balancer's MemoryStore (memory.ts) that keep a home in one number: a table of substation
 * ids by small index, and a wheel of names by the second their home expires in.
 */
import { Heap } from "heap-js";

/**
 * A home is `expiresAtMs * SITES + index` (ms, whole): exact while expiresAtMs < 2^53 / SITES, i.e. until the
 * year 2109. At 200 vehicles a second a balancer holds ~24,000 homes; a record and an expiry entry each would
 * cost ~90 bytes more.
 */
export const SITES = 2048;

export const packHome = (expiresAtMs: number, index: number) => expiresAtMs * SITES + index;
export const expiresOf = (home: number) => Math.floor(home / SITES);
export const indexOf = (home: number) => home % SITES;

/**
 * Substation ids by index, each counted by the homes that use it: an index no home uses is free again, so
 * the table never fills while fewer than SITES substations hold homes at once.
 */
export class SiteTable {
  private readonly ids: (string | undefined)[] = [];
  private readonly byId = new Map<string, number>();
  private readonly uses: number[] = [];
  private readonly free: number[] = [];

  /** One more home at `id`: its index, or undefined when SITES other substations hold homes now. */
  take(id: string): number | undefined {
    let index = this.byId.get(id);
    if (index === undefined) {
      index = this.free.pop() ?? (this.ids.length < SITES ? this.ids.length : undefined);
      if (index === undefined) return undefined;
      this.ids[index] = id;
      this.byId.set(id, index);
      this.uses[index] = 0;
    }
    this.uses[index] = (this.uses[index] as number) + 1;
    return index;
  }

  /** One home fewer at this index. */
  release(index: number): void {
    const left = (this.uses[index] as number) - 1;
    this.uses[index] = left;
    if (left > 0) return;
    this.byId.delete(this.ids[index] as string);
    this.ids[index] = undefined;
    this.free.push(index);
  }

  idAt(index: number): string {
    return this.ids[index] as string;
  }
}

/** A name of the second under way, with its home's expiry when it joined the heap. */
interface Due {
  name: string;
  atMs: number;
}

/**
 * Names by the second their home expires in: one array slot per home (the name is the map's own string), and
 * a heap of the seconds that have names. A name whose home was renewed or deleted stays until its second is
 * taken.
 */
export class ExpiryWheel {
  private readonly names = new Map<number, string[]>();
  private readonly seconds = new Heap<number>((a, b) => a - b);
  size = 0;
  /** The second under way's names not yet taken, by expiry, and how many of its names the heap has had. */
  private underWay: { second: number; from: number; byExpiry: Heap<Due> } | null = null;

  add(name: string, expiresAtMs: number): void {
    const second = Math.ceil(expiresAtMs / 1000);
    const names = this.names.get(second);
    if (names) names.push(name);
    else {
      this.names.set(second, [name]);
      this.seconds.push(second);
    }
    this.size += 1;
  }

  /**
   * Calls `due` with every name of the seconds that have passed by `nowMs` (each checks its home: renewed
   * ones are not due). A home is dropped at most a second after it expired; until then lookups ignore it.
   */
  takeDue(nowMs: number, due: (name: string) => void): void {
    for (let s = this.seconds.peek(); s !== undefined && s * 1000 <= nowMs; s = this.seconds.peek()) {
      this.seconds.pop();
      if (this.underWay?.second === s) this.underWay = null;
      const names = this.names.get(s) ?? [];
      this.names.delete(s);
      this.size -= names.length;
      for (const name of names) due(name);
    }
  }

  /**
   * Calls `due` with each name of the second under way whose home has expired by `nowMs` (`expiresAtMs`: its
   * home's expiry now, undefined if it has none): once `takeDue` ran, the only ones that may have. The
   * second's names go into a heap by expiry once (and names that join it later, as they come), and those due
   * are popped: O(log n) per name, where a scan of the second would cost one lookup per name on every call
   * (thousands a second at a busy balancer, on every insert at the bound). A name renewed since its slot here
   * expires later: popped early, it is checked by `due`, which keeps what has not expired.
   */
  takeExpiredUnderWay(
    nowMs: number,
    expiresAtMs: (name: string) => number | undefined,
    due: (name: string) => void,
  ): void {
    const second = this.seconds.peek();
    if (second === undefined) return;
    const names = this.names.get(second) ?? [];
    let c = this.underWay;
    if (c === null || c.second !== second) {
      c = { second, from: 0, byExpiry: new Heap<Due>((a, b) => a.atMs - b.atMs) };
      this.underWay = c;
    }
    if (c.from < names.length) {
      const joined = names.slice(c.from).map((name) => ({
        name,
        atMs: expiresAtMs(name) ?? Number.NEGATIVE_INFINITY,
      }));
      // One at a time after the first batch (heap-js's addAll spreads its argument: a RangeError at 10^6).
      if (c.byExpiry.length === 0) c.byExpiry.init(joined);
      else for (const d of joined) c.byExpiry.push(d);
      c.from = names.length;
    }
    for (let d = c.byExpiry.peek(); d !== undefined && d.atMs <= nowMs; d = c.byExpiry.peek()) {
      c.byExpiry.pop();
      due(d.name);
    }
  }

  clear(): void {
    this.names.clear();
    this.seconds.clear();
    this.underWay = null;
    this.size = 0;
  }
}
