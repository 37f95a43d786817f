/**
 * How one site's power is divided among its live sessions under a policy's share rule (policies.ts). The
 * `water` and `deadlines` rules are packages/policy's `reshareSite`, the substation's own step; `edf` and
 * `llf` are the classic online rules, written here because they are only compared, never run live.
 */

import {
  type Capacity,
  effectiveCapacityKw,
  giveInOrder,
  type NeedDemand,
  nextLaxityCrossingS,
  reshareSite,
} from "@evgrid/policy";
import type { ShareRule } from "./policies.ts";

/** What sharing needs to know of a live session. */
export interface Shared {
  minKw: number;
  /** Its maximum now (after any taper). */
  capKw: number;
  weight: number;
  /** Energy still wanted, kWh. */
  leftKwh: number;
  departMin: number;
  /** Start order at the site (ties broken by it). */
  seq: number;
  allocKw: number;
  /** Its class for water-filling (minimum, maximum, weight), cached: looked up only when its maximum changes. */
  cls?: Cls;
  classCapKw?: number;
}

const S_PER_MIN = 60;

/**
 * Sets every session's `allocKw`; returns in how many minutes time alone changes the order (a laxity
 * crossing, a session out of slack), +Infinity if it never does under this rule. `guardMin`: how long until
 * the next such re-share may come (the deadline rule serves a session whose slack runs out before then as
 * out of slack now).
 */
export function shareSite(
  rule: ShareRule,
  site: Capacity,
  live: readonly Shared[],
  nowMin: number,
  guardMin: number,
): number {
  switch (rule) {
    case "max":
      for (const l of live) l.allocKw = l.capKw;
      return Number.POSITIVE_INFINITY;
    case "water":
      shareWater(site, live);
      return Number.POSITIVE_INFINITY;
    case "deadlines": {
      const demands = live.map((l) => needOf(l, nowMin));
      const shares = reshareSite(site, demands, guardMin * S_PER_MIN);
      live.forEach((l, i) => {
        l.allocKw = shares.sharesKw[i] as number;
      });
      return shares.nextCrossingS / S_PER_MIN;
    }
    case "edf":
      shareInOrder(site, live, (l) => l.departMin);
      return Number.POSITIVE_INFINITY;
    case "llf": {
      const demands = live.map((l) => needOf(l, nowMin));
      shareInOrder(site, live, (_, i) => laxityMin(demands[i] as NeedDemand));
      return (
        nextLaxityCrossingS(
          demands,
          live.map((l) => l.allocKw),
        ) / S_PER_MIN
      );
    }
  }
}

const needOf = (l: Shared, nowMin: number): NeedDemand => ({
  minKw: Math.min(l.minKw, l.capKw),
  maxKw: l.capKw,
  weight: l.weight,
  energyLeftKwh: l.leftKwh,
  departInS: (l.departMin - nowMin) * S_PER_MIN,
});

const laxityMin = (d: NeedDemand) =>
  ((d.departInS ?? 0) - ((d.energyLeftKwh ?? 0) * 3600) / Math.max(d.maxKw, 1e-9)) / S_PER_MIN;

/** Sessions alike in minimum, maximum and weight: one demand with a count. */
interface Cls {
  minKw: number;
  maxKw: number;
  weight: number;
  count: number;
  shareKw: number;
  /** Which re-share last counted it. */
  stamp: number;
}

/** Classes are interned (a few vehicle kinds × classes); tapering maxima are many, so the table is bounded. */
const interned = new Map<string, Cls>();
const MAX_INTERNED = 10_000;
let stamps = 0;

function classOf(minKw: number, maxKw: number, weight: number): Cls {
  const key = `${minKw}|${maxKw}|${weight}`;
  let c = interned.get(key);
  if (!c) {
    c = { minKw, maxKw, weight, count: 0, shareKw: 0, stamp: 0 };
    if (interned.size < MAX_INTERNED) interned.set(key, c);
  }
  return c;
}

/**
 * Today's water-filling, by class: sessions alike share one demand with a count (as the substation's power
 * classes do), so the re-share itself costs O(classes), and handing out the shares O(sessions) reads.
 */
function shareWater(site: Capacity, live: readonly Shared[]): void {
  const stamp = ++stamps;
  const list: Cls[] = [];
  for (const l of live) {
    if (l.cls === undefined || l.classCapKw !== l.capKw) {
      l.cls = classOf(Math.min(l.minKw, l.capKw), l.capKw, l.weight);
      l.classCapKw = l.capKw;
    }
    const c = l.cls;
    if (c.stamp !== stamp) {
      c.stamp = stamp;
      c.count = 0;
      list.push(c);
    }
    c.count += 1;
  }
  const shares = reshareSite(site, list);
  list.forEach((c, i) => {
    c.shareKw = shares.sharesKw[i] as number;
  });
  for (const l of live) l.allocKw = (l.cls as Cls).shareKw;
}

/**
 * Minimums first; then what is left to each in `key` order (lower first, then start order), up to its
 * maximum. The order is never sorted: a selection finds where the power runs out (giveInOrder), as a busy
 * site hands its spare power to hundreds of sessions at each re-share.
 */
function shareInOrder(site: Capacity, live: readonly Shared[], key: (l: Shared, i: number) => number): void {
  let spareKw = effectiveCapacityKw(site);
  for (const l of live) {
    l.allocKw = Math.min(l.minKw, l.capKw);
    spareKw -= l.allocKw;
  }
  if (spareKw <= 0) return;
  const keys = new Float64Array(live.length);
  const seqs = new Float64Array(live.length);
  const indices = new Array<number>(live.length);
  live.forEach((l, i) => {
    keys[i] = key(l, i);
    seqs[i] = l.seq;
    indices[i] = i;
  });
  giveInOrder(
    indices,
    (x, y) => (keys[x] as number) - (keys[y] as number) || (seqs[x] as number) - (seqs[y] as number),
    (i) => {
      const l = live[i] as Shared;
      return l.capKw - l.allocKw;
    },
    (i, kw) => {
      (live[i] as Shared).allocKw += kw;
    },
    spareKw,
  );
}
