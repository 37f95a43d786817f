/**
 * The day's clock: timed events from a heap, arrivals merged in from their sorted array (so the heap holds
 * only what is pending for cars already there, not the whole day's arrivals).
 */
import { Heap } from "heap-js";
import { type Arrival, byArrival } from "./arrivals.ts";
import { shareSteps } from "./limits.ts";
import type { Scenario } from "./scenario.ts";
import type { Live } from "./site.ts";
import type { SiteClock } from "./site-clock.ts";
import type { Vehicle } from "./vehicle.ts";

/**
 * At the same minute: limits, departures, a site's wake-up (a completion or a re-share due, from the
 * SiteClock) or a car full, give-ups, arrivals, samples.
 */
export type Event =
  | { t: number; order: 0; kind: "limit"; sites: string[]; share: number | null }
  | { t: number; order: 1; kind: "depart"; v: Vehicle }
  | { t: number; order: 2; kind: "full"; live: Live }
  | { t: number; order: 3; kind: "giveUp"; v: Vehicle; epoch: number }
  | { t: number; order: 5; kind: "sample" };

const WAKE_ORDER = 2;
const ARRIVE_ORDER = 4;

/** Days of a run its chart samples keep `sampleMin` over: a longer one is sampled less often (seriesStepOf). */
const SERIES_DAYS = 2;

/** The last minute a run counts: the end of the day, or the last departure past it. */
function runEndMin(arrivals: readonly Arrival[], dayMin: number): number {
  let untilMin = dayMin;
  for (const a of arrivals) untilMin = Math.max(untilMin, a.departMin);
  return untilMin;
}

/**
 * Minutes between chart samples: `sampleMin`, or, for a run past 2 days (a car parked for a week, or for the
 * year `maxDwellH` allows), the least multiple of it that keeps the samples to 2 days' worth, one that divides a
 * day or is whole days if one can (so midnight is sampled). Series and charts grow with the run's length no
 * further: at `sampleMin` throughout, one car parked a year made a 1 GB report.json and took 4 GB.
 */
export function seriesStepOf(scenario: Scenario, arrivals: readonly Arrival[], dayMin: number): number {
  const step = scenario.sampleMin;
  let k = Math.max(1, Math.ceil(runEndMin(arrivals, dayMin) / (SERIES_DAYS * dayMin)));
  if (dayMin % step === 0) while (dayMin % (k * step) !== 0 && (k * step) % dayMin !== 0) k++;
  return k * step;
}

/**
 * Whether a chart sample is taken at `t` (the `i`th): every `stepMin` to the end of the day, or, when a car
 * stays past midnight (`untilMin`, the last departure), on to the first sample at or after it: the series,
 * and the charts, cover every minute the run counts energy in.
 */
function sampleAt(t: number, i: number, dayMin: number, stepMin: number, untilMin: number): boolean {
  return untilMin > dayMin ? i <= Math.ceil(untilMin / stepMin) : t <= dayMin;
}

/**
 * The heap, holding the day's fixed events: the operator's limits and the chart samples. Limits hold every day
 * the run covers, to the last departure (`arrivals`'): a car parked past midnight is under the next day's; the
 * samples run as long (`sampleAt`), every `seriesStepOf`.
 */
export function newTimeline(
  scenario: Scenario,
  dayMin: number,
  arrivals: readonly Arrival[] = [],
): Heap<Event> {
  const events = new Heap<Event>((x, y) => x.t - y.t || x.order - y.order);
  const untilMin = runEndMin(arrivals, dayMin);
  const step = seriesStepOf(scenario, arrivals, dayMin);
  // Limits change to the last sample (at or after the last departure), so every sample shows the one in force.
  const lastMin = untilMin > dayMin ? Math.ceil(untilMin / step) * step : untilMin;
  // Sites whose limit changes alike at a minute change in one event (then waiters are served once).
  const changed = new Map<string, Extract<Event, { kind: "limit" }>>();
  for (const site of scenario.substations) {
    // The share in force from each minute of the day it changes at (limits.ts): one event per change, every
    // day the run covers, so no end undoes a start.
    const steps = shareSteps(scenario.operatorLimits, site.id);
    let inForce: number | null = null;
    for (let day = 0; day * dayMin <= lastMin; day++) {
      for (const { at, share } of steps) {
        const t = day * dayMin + at;
        if (t > lastMin || share === inForce) continue;
        inForce = share;
        const alike = changed.get(`${t} ${share}`);
        if (alike) alike.sites.push(site.id);
        else changed.set(`${t} ${share}`, { t, order: 0, kind: "limit", sites: [site.id], share });
      }
    }
  }
  for (const e of changed.values()) events.push(e);
  for (let t = 0, i = 0; sampleAt(t, i, dayMin, step, untilMin); t += step, i++)
    events.push({ t, order: 5, kind: "sample" });
  return events;
}

function isSorted(arrivals: readonly Arrival[]): boolean {
  for (let i = 1; i < arrivals.length; i++)
    if (byArrival(arrivals[i - 1] as Arrival, arrivals[i] as Arrival) > 0) return false;
  return true;
}

/** Runs every event, site wake-up and arrival in time order until none is left. */
export function replay<A extends Arrival>(
  sources: { events: Heap<Event>; clock: SiteClock; arrivals: readonly A[] },
  on: { arrive: (a: A) => void; event: (e: Event) => void; wake: (site: number, t: number) => void },
): void {
  const { events, clock } = sources;
  const ordered = isSorted(sources.arrivals) ? sources.arrivals : [...sources.arrivals].sort(byArrival);
  let next = 0;
  for (;;) {
    const top = events.peek();
    const wake = clock.peek();
    const a = ordered[next];
    let t = top ? top.t : Number.POSITIVE_INFINITY;
    let order = top ? top.order : Number.POSITIVE_INFINITY;
    const wakeFirst = wake !== undefined && (wake.t < t || (wake.t === t && WAKE_ORDER < order));
    if (wake && wakeFirst) {
      t = wake.t;
      order = WAKE_ORDER;
    }
    if (a && (a.arriveMin < t || (a.arriveMin === t && ARRIVE_ORDER < order))) {
      next += 1;
      on.arrive(a);
    } else if (wake && wakeFirst) on.wake(wake.site, wake.t);
    else if (top) on.event(events.pop() as Event);
    else return;
  }
}
