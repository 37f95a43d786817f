/**
 * When each site next needs the engine's attention (a session full, a laxity crossing, a taper step): one
 * time per site in an indexed binary heap, moved in place when a re-share changes it. The event heap would
 * instead keep every superseded wake-up until its time came (millions on a big day); this keeps one per site.
 */
export class SiteClock {
  private readonly at: Float64Array;
  /** Heap of site indexes, earliest first. */
  private readonly heap: number[] = [];
  /** Where each site is in `heap` (-1: not there). */
  private readonly pos: Int32Array;

  constructor(sites: number) {
    this.at = new Float64Array(sites).fill(Number.POSITIVE_INFINITY);
    this.pos = new Int32Array(sites).fill(-1);
  }

  /** The earliest wake-up, or undefined if no site needs one. */
  peek(): { site: number; t: number } | undefined {
    const site = this.heap[0];
    return site === undefined ? undefined : { site, t: this.at[site] as number };
  }

  /** Sets (or, with +Infinity, clears) a site's next wake-up. O(log sites). */
  set(site: number, t: number): void {
    const i = this.pos[site] as number;
    this.at[site] = t;
    if (t === Number.POSITIVE_INFINITY) {
      if (i >= 0) this.removeAt(i);
      return;
    }
    if (i < 0) {
      this.heap.push(site);
      this.pos[site] = this.heap.length - 1;
      this.up(this.heap.length - 1);
    } else {
      this.up(i);
      this.down(this.pos[site] as number);
    }
  }

  private removeAt(i: number): void {
    const gone = this.heap[i] as number;
    const last = this.heap.pop() as number;
    this.pos[gone] = -1;
    if (gone === last) return;
    this.heap[i] = last;
    this.pos[last] = i;
    this.up(i);
    this.down(this.pos[last] as number);
  }

  private less(a: number, b: number): boolean {
    const x = this.at[a] as number;
    const y = this.at[b] as number;
    return x < y || (x === y && a < b);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i] as number;
    const b = this.heap[j] as number;
    this.heap[i] = b;
    this.heap[j] = a;
    this.pos[b] = i;
    this.pos[a] = j;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.heap[i] as number, this.heap[parent] as number)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(this.heap[l] as number, this.heap[m] as number)) m = l;
      if (r < this.heap.length && this.less(this.heap[r] as number, this.heap[m] as number)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
