/**
 * The day's clock: timed events from a heap, arrivals merged in from their sorted array (so the heap holds
 * only what is pending for cars already there, not the whole day's arrivals).
 */
import { Heap } from "heap-js";
import type { Arrival } from "./arrivals.ts";
import type { Live, Site } from "./site.ts";
import type { Vehicle } from "./vehicle.ts";

/** At the same minute: limits, departures, completions and re-shares, give-ups, arrivals, samples. */
export type Event =
  | { t: number; order: 0; kind: "limit"; sites: string[]; share: number | null }
  | { t: number; order: 1; kind: "depart"; v: Vehicle }
  | { t: number; order: 2; kind: "complete" | "tick"; site: Site; version: number }
  | { t: number; order: 2; kind: "full"; live: Live }
  | { t: number; order: 3; kind: "giveUp"; v: Vehicle; epoch: number }
  | { t: number; order: 5; kind: "sample" };

const ARRIVE_ORDER = 4;

export const newTimeline = () => new Heap<Event>((x, y) => x.t - y.t || x.order - y.order);

const byArrival = (x: Arrival, y: Arrival) => x.arriveMin - y.arriveMin || x.id - y.id;

function isSorted(arrivals: readonly Arrival[]): boolean {
  for (let i = 1; i < arrivals.length; i++)
    if (byArrival(arrivals[i - 1] as Arrival, arrivals[i] as Arrival) > 0) return false;
  return true;
}

/** Runs every event and arrival in time order until none is left. */
export function replay<A extends Arrival>(
  events: Heap<Event>,
  arrivals: readonly A[],
  arrive: (a: A) => void,
  handle: (e: Event) => void,
): void {
  const ordered = isSorted(arrivals) ? arrivals : [...arrivals].sort(byArrival);
  let next = 0;
  for (;;) {
    const top = events.peek();
    const a = ordered[next];
    if (a && (!top || a.arriveMin < top.t || (a.arriveMin === top.t && ARRIVE_ORDER < top.order))) {
      next += 1;
      arrive(a);
      continue;
    }
    if (!top) return;
    events.pop();
    handle(top);
  }
}
