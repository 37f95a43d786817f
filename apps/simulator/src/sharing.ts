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
import type { SiteRows } from "./site-rows.ts";

/**
 * A live session's figures. Sharing reads and writes them in the site's rows (site-rows.ts), in the same
 * order as the site's sessions; of the session itself only the water rule's cached class.
 */
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
 * Sets every session's power (`rows.allocKw`); returns in how many minutes time alone changes the order (a
 * laxity crossing, a session out of slack), +Infinity if it never does under this rule. `guardMin`: how long
 * until the next such re-share may come (the deadline rule serves a session whose slack runs out before then
 * as out of slack now). `live` are the sessions of the rows, in the same order.
 */
export function shareSite(
  rule: ShareRule,
  site: Capacity,
  rows: SiteRows,
  live: readonly Shared[],
  nowMin: number,
  guardMin: number,
): number {
  const k = live.length;
  switch (rule) {
    case "max":
      rows.allocKw.set(rows.capKw.subarray(0, k));
      return Number.POSITIVE_INFINITY;
    case "water":
      shareWater(site, rows, live);
      return Number.POSITIVE_INFINITY;
    case "deadlines": {
      fillTable(rows, k, nowMin);
      const { nextCrossingS } = reshareTable(site, table, guardMin * S_PER_MIN);
      rows.allocKw.set(table.sharesKw.subarray(0, k));
      return nextCrossingS / S_PER_MIN;
    }
    case "edf":
      shareInOrder(site, rows, k, (i) => rows.departMin[i] as number);
      return Number.POSITIVE_INFINITY;
    case "llf": {
      // The least laxity first; then, from the table of needOf's numbers, when two laxities cross.
      fillTable(rows, k, nowMin);
      shareInOrder(site, rows, k, (i) => laxityMin(rows, i, nowMin));
      table.sharesKw.set(rows.allocKw.subarray(0, k));
      table.laxities();
      return nextLaxityCrossingOf(table) / S_PER_MIN;
    }
  }
}

/**
 * Each live session's need, as a demand for the deadline rule (a session's minimum, its maximum now, its
 * weight, the energy it still wants and the seconds until it leaves), written into the table kept across
 * re-shares: no object per session per event.
 */
function fillTable(rows: SiteRows, k: number, nowMin: number): void {
  table.resize(k);
  const { minKw, capKw, weight, leftKwh, departMin } = rows;
  for (let i = 0; i < k; i++) {
    const cap = capKw[i] as number;
    table.set(
      i,
      Math.min(minKw[i] as number, cap),
      cap,
      weight[i] as number,
      1,
      leftKwh[i] as number,
      ((departMin[i] as number) - nowMin) * S_PER_MIN,
    );
  }
}

/** Minutes until it can no longer make its departure at its maximum (LLF's order). */
const laxityMin = (rows: SiteRows, i: number, nowMin: number) =>
  (((rows.departMin[i] as number) - nowMin) * S_PER_MIN -
    ((rows.leftKwh[i] as number) * 3600) / Math.max(rows.capKw[i] as number, 1e-9)) /
  S_PER_MIN;

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
function shareWater(site: Capacity, rows: SiteRows, live: readonly Shared[]): void {
  const stamp = ++stamps;
  const list: Cls[] = [];
  live.forEach((l, i) => {
    const capKw = rows.capKw[i] as number;
    if (l.cls === undefined || l.classCapKw !== capKw) {
      l.cls = classOf(Math.min(rows.minKw[i] as number, capKw), capKw, rows.weight[i] as number);
      l.classCapKw = capKw;
    }
    const c = l.cls;
    if (c.stamp !== stamp) {
      c.stamp = stamp;
      c.count = 0;
      list.push(c);
    }
    c.count += 1;
  });
  const shares = reshareSite(site, list);
  list.forEach((c, i) => {
    c.shareKw = shares.sharesKw[i] as number;
  });
  live.forEach((l, i) => {
    rows.allocKw[i] = (l.cls as Cls).shareKw;
  });
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
function shareInOrder(site: Capacity, rows: SiteRows, k: number, key: (i: number) => number): void {
  const { minKw, capKw, allocKw, seq } = rows;
  let spareKw = effectiveCapacityKw(site);
  for (let i = 0; i < k; i++) {
    allocKw[i] = Math.min(minKw[i] as number, capKw[i] as number);
    spareKw -= allocKw[i] as number;
  }
  if (spareKw <= 0) return;
  if (inOrder.wantKw.length < k) inOrder = inOrderOf(Math.max(k, 2 * inOrder.wantKw.length));
  const { order, wantKw, indices } = inOrder;
  for (let i = 0; i < k; i++) {
    order.first[i] = key(i);
    order.second[i] = seq[i] as number;
    wantKw[i] = (capKw[i] as number) - (allocKw[i] as number);
    indices[i] = i;
  }
  giveInOrder(
    indices,
    k,
    order,
    wantKw,
    (i, kw) => {
      allocKw[i] = (allocKw[i] as number) + kw;
    },
    spareKw,
  );
}
