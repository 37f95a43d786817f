/**
 * How one site's power is divided among its live sessions under a policy's share rule (policies.ts). The
 * `water` and `deadlines` rules are packages/policy's re-share, the substation's own step (`reshareSite`;
 * `reshareTable`, the same step on a table of rows refilled in place, for the deadline rule's hundreds of
 * sessions a site); `edf` and `llf` are the classic online rules, written here because they are only
 * compared, never run live.
 */

import {
  type Capacity,
  effectiveCapacityKw,
  giveInOrder,
  NeedTable,
  nextLaxityCrossingOf,
  reshareSite,
  reshareTable,
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

/** The deadline rule's rows, refilled at each re-share (one site at a time). */
const table = new NeedTable();

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
      const k = fillTable(live, nowMin);
      const { nextCrossingS } = reshareTable(site, table, guardMin * S_PER_MIN);
      for (let i = 0; i < k; i++) (live[i] as Shared).allocKw = table.sharesKw[i] as number;
      return nextCrossingS / S_PER_MIN;
    }
    case "edf":
      shareInOrder(site, live, (l) => l.departMin);
      return Number.POSITIVE_INFINITY;
    case "llf": {
      // The least laxity first; then, from the table of needOf's numbers, when two laxities cross.
      const k = fillTable(live, nowMin);
      shareInOrder(site, live, (l) => laxityMin(l, nowMin));
      for (let i = 0; i < k; i++) table.sharesKw[i] = (live[i] as Shared).allocKw;
      table.laxities();
      return nextLaxityCrossingOf(table) / S_PER_MIN;
    }
  }
}

/**
 * Each live session's need, as a demand for the deadline rule (a session's minimum, its maximum now, its
 * weight, the energy it still wants and the seconds until it leaves), written into the table kept across
 * re-shares: no object per session per event. Returns the rows.
 */
function fillTable(live: readonly Shared[], nowMin: number): number {
  const k = live.length;
  table.resize(k);
  for (let i = 0; i < k; i++) {
    const l = live[i] as Shared;
    table.set(
      i,
      Math.min(l.minKw, l.capKw),
      l.capKw,
      l.weight,
      1,
      l.leftKwh,
      (l.departMin - nowMin) * S_PER_MIN,
    );
  }
  return k;
}

/** Minutes until it can no longer make its departure at its maximum (LLF's order). */
const laxityMin = (l: Shared, nowMin: number) =>
  ((l.departMin - nowMin) * S_PER_MIN - (l.leftKwh * 3600) / Math.max(l.capKw, 1e-9)) / S_PER_MIN;

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

/** shareInOrder's rows (its order, wants and indices), kept across re-shares and grown as needed. */
const inOrderOf = (n: number) => ({
  order: { first: new Float64Array(n), second: new Float64Array(n) },
  wantKw: new Float64Array(n),
  indices: new Int32Array(n),
});
let inOrder = inOrderOf(16);

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
  const k = live.length;
  if (inOrder.wantKw.length < k) inOrder = inOrderOf(Math.max(k, 2 * inOrder.wantKw.length));
  const { order, wantKw, indices } = inOrder;
  for (let i = 0; i < k; i++) {
    const l = live[i] as Shared;
    order.first[i] = key(l, i);
    order.second[i] = l.seq;
    wantKw[i] = l.capKw - l.allocKw;
    indices[i] = i;
  }
  giveInOrder(
    indices,
    k,
    order,
    wantKw,
    (i, kw) => {
      (live[i] as Shared).allocKw += kw;
    },
    spareKw,
  );
}
