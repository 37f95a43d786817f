/**
 * Cars waiting for power (or an EVSE), offered it higher class first, then by arrival; one that cannot
 * start does not block those behind it (packages/policy's `byClassThenArrival`, the balancer's order).
 *
 * Scale: the queue is kept in buckets of one minimum power (and one bound site, for cars tied to a station),
 * each a heap in queue order. A car fits wherever the largest headroom is at least its minimum, and headroom
 * only shrinks during a pass, so the next car to start is the best head among the buckets that fit: a pass
 * costs O(started × buckets × log n), not O(waiting × sites). Leaving is lazy (stale entries are skipped).
 */
import { byClassThenArrival, KW_EPSILON } from "@evgrid/policy";
import { Heap } from "heap-js";
import type { Site } from "./site.ts";
import type { Vehicle } from "./vehicle.ts";

interface Entry {
  v: Vehicle;
  epoch: number;
  seq: number;
  priority: Vehicle["priority"];
}

interface Bucket {
  minKw: number;
  site: Site | null;
  heap: Heap<Entry>;
}

const live = (e: Entry) => e.v.state === "waiting" && e.v.waitEpoch === e.epoch;

export class WaitQueue {
  private readonly buckets = new Map<string, Bucket>();
  /** Cars waiting now. */
  size = 0;

  push(v: Vehicle): void {
    const key = `${v.a.minKw}|${v.boundSite?.index ?? -1}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = { minKw: v.a.minKw, site: v.boundSite, heap: new Heap<Entry>(byClassThenArrival) };
      this.buckets.set(key, b);
    }
    b.heap.push({ v, epoch: v.waitEpoch, seq: v.seq, priority: v.priority });
    this.size += 1;
  }

  /** A waiting car leaves (gave up, departed, or started): its entry goes stale. */
  left(): void {
    this.size -= 1;
  }

  /**
   * Starts waiting cars while any fits: `headroomKw(site)` is what a car bound to `site` may take (null:
   * the best over every site), -Infinity where nothing may start. `start` returns false if it could not
   * start after all (that car is offered again next pass).
   */
  serve(headroomKw: (site: Site | null) => number, start: (v: Vehicle) => boolean): void {
    if (this.size === 0) return;
    const skipped: [Bucket, Entry][] = [];
    for (;;) {
      let best: Bucket | undefined;
      let bestHead: Entry | undefined;
      for (const b of this.buckets.values()) {
        let head = b.heap.peek();
        while (head && !live(head)) {
          b.heap.pop();
          head = b.heap.peek();
        }
        if (!head || b.minKw > headroomKw(b.site) + KW_EPSILON) continue;
        if (!bestHead || byClassThenArrival(head, bestHead) < 0) {
          best = b;
          bestHead = head;
        }
      }
      if (!best || !bestHead) break;
      best.heap.pop();
      if (!start(bestHead.v)) skipped.push([best, bestHead]);
    }
    for (const [b, e] of skipped) b.heap.push(e);
  }
}
