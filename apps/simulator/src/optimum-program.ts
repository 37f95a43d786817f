/**
 * The offline optimum's program (see optimum.ts): the day cut into steps, each car's window, each site-step's
 * supply, the columns and rows HiGHS takes, and a greedy schedule that proves the optimum when it can.
 */
import type { Arrival } from "./arrivals.ts";
import { DAY_MIN, shareSteps } from "./limits.ts";
import type { Scenario } from "./scenario.ts";

export interface OptimumOptions {
  /** Length of a time step, whole minutes (default 5): shorter is tighter and bigger. */
  stepMin?: number;
  /**
   * Each car's site by arrival id (cars not in it are not charged). Default: its station's site when the
   * data names every car's station (`stationPlacement`), else every site, pooled.
   */
  siteOf?: ReadonlyMap<number, string>;
  /** The solver stops after this long and reports `TimeLimit` with the best energy found (default 600 s). */
  timeLimitS?: number;
  /**
   * Refuse a program with more car-steps than this (default 5,000,000, about 2 GB for HiGHS and well past a
   * minute of solving): a week-long dwell at 1-minute steps times a million cars is a mistake, not a plan.
   */
  maxCarSteps?: number;
  /** Try the greedy proof first (default true); false always runs the solver (tests, the bench). */
  greedyProof?: boolean;
}

/**
 * Each site's effective share of its capacity, minute by minute of the day (1 when no limit applies): the
 * limits read as the engine reads them (limits.ts; one across midnight is the night).
 */
function sharesByMinute(scenario: Scenario): Float64Array[] {
  return scenario.substations.map((site) => {
    const share = new Float64Array(DAY_MIN);
    const steps = shareSteps(scenario.operatorLimits, site.id);
    for (const [i, { at, share: s }] of steps.entries())
      share.fill(Math.min(1, s ?? 1), at, steps[i + 1]?.at ?? DAY_MIN);
    return share;
  });
}

/**
 * kWh a site can supply over [fromMin, toMin): its effective capacity integrated minute by minute, under the
 * day's limits every day (as the engine: a car parked past midnight is under the next day's).
 */
function stepEnergyKwh(capacityKw: number, share: Float64Array, fromMin: number, toMin: number): number {
  let kwMin = 0;
  for (let m = fromMin; m < toMin; m++) kwMin += capacityKw * (m >= 0 ? (share[m % DAY_MIN] as number) : 1);
  return kwMin / 60;
}

function checkArrival(a: Arrival) {
  for (const [field, value] of [
    ["arriveMin", a.arriveMin],
    ["departMin", a.departMin],
    ["wantKwh", a.wantKwh],
    ["maxKw", a.maxKw],
  ] as const) {
    if (!Number.isFinite(value)) throw new RangeError(`arrival ${a.id}: ${field} is not a finite number`);
  }
}

/** The program as HiGHS takes it: columns in CSC form (`starts` into `rowIndex`), every coefficient 1. */
export interface Program {
  colUpper: number[];
  starts: number[];
  rowIndex: number[];
  rowUpper: number[];
}

/** A car's parked minutes in each step it touches, and its site (0 when pooled). */
export interface Window {
  a: Arrival;
  site: number;
  first: number;
  parkedMin: number[];
}

function windowsOf(
  arrivals: readonly Arrival[],
  scenario: Scenario,
  startMin: number,
  stepMin: number,
  siteOf: OptimumOptions["siteOf"],
  maxCarSteps: number,
) {
  let carSteps = 0;
  const siteIndex = new Map(scenario.substations.map((s, i) => [s.id, i]));
  const out: Window[] = [];
  for (const a of arrivals) {
    if (a.wantKwh <= 0 || a.departMin <= a.arriveMin || a.maxKw <= 0) continue;
    let site = 0;
    if (siteOf) {
      const id = siteOf.get(a.id);
      if (id === undefined) continue;
      const index = siteIndex.get(id);
      if (index === undefined) throw new RangeError(`arrival ${a.id}: no substation ${id}`);
      site = index;
    }
    const first = Math.floor((a.arriveMin - startMin) / stepMin);
    const last = Math.ceil((a.departMin - startMin) / stepMin);
    carSteps += last - first;
    if (carSteps > maxCarSteps)
      throw new RangeError(
        `the program would have over ${maxCarSteps} car-steps (maxCarSteps) at ${stepMin}-minute steps: take longer steps or fewer cars`,
      );
    const parkedMin: number[] = [];
    for (let k = first; k < last; k++) {
      const from = startMin + k * stepMin;
      parkedMin.push(Math.max(0, Math.min(a.departMin, from + stepMin) - Math.max(a.arriveMin, from)));
    }
    out.push({ a, site, first, parkedMin });
  }
  return out;
}

/** kWh each site (or all pooled, `siteCount` 1) can supply in each step, indexed site × steps + step. */
function supplyByStep(
  scenario: Scenario,
  siteCount: number,
  startMin: number,
  stepMin: number,
  steps: number,
) {
  const shares = sharesByMinute(scenario);
  const supplyKwh = new Float64Array(siteCount * steps);
  for (let k = 0; k < steps; k++) {
    const from = startMin + k * stepMin;
    for (const [i, s] of scenario.substations.entries()) {
      const kwh = stepEnergyKwh(s.capacityKw, shares[i] as Float64Array, from, from + stepMin);
      const key = (siteCount > 1 ? i : 0) * steps + k;
      supplyKwh[key] = (supplyKwh[key] as number) + kwh;
    }
  }
  return supplyKwh;
}

/** The day cut into steps: each car's window, each site-step's supply and the cars' demand on it. */
export interface Prepared {
  windows: Window[];
  steps: number;
  supplyKwh: Float64Array;
  demandKwh: Float64Array;
}

export function prepare(
  scenario: Scenario,
  arrivals: readonly Arrival[],
  stepMin: number,
  opts: OptimumOptions,
): Prepared {
  let firstMin = Number.POSITIVE_INFINITY;
  let lastMin = Number.NEGATIVE_INFINITY;
  for (const a of arrivals) {
    checkArrival(a);
    firstMin = Math.min(firstMin, a.arriveMin);
    lastMin = Math.max(lastMin, a.departMin);
  }
  if (arrivals.length === 0)
    return { windows: [], steps: 0, supplyKwh: new Float64Array(0), demandKwh: new Float64Array(0) };
  const startMin = Math.floor(firstMin / stepMin) * stepMin;
  const steps = Math.max(0, Math.ceil((lastMin - startMin) / stepMin));
  const maxCarSteps = opts.maxCarSteps ?? 5_000_000;
  const windows = windowsOf(arrivals, scenario, startMin, stepMin, opts.siteOf, maxCarSteps);
  // Pooled: one "site" with every capacity; fixed: each real site.
  const siteCount = opts.siteOf ? scenario.substations.length : 1;
  const supplyKwh = supplyByStep(scenario, siteCount, startMin, stepMin, steps);
  const demandKwh = new Float64Array(siteCount * steps);
  for (const w of windows) {
    for (const [j, m] of w.parkedMin.entries()) {
      const key = w.site * steps + w.first + j;
      demandKwh[key] = (demandKwh[key] as number) + (w.a.maxKw * m) / 60;
    }
  }
  return { windows, steps, supplyKwh, demandKwh };
}

/**
 * The program, made smaller without changing its optimum: a site-step whose cars together cannot exceed its
 * energy (Σ maxKw × parked ≤ capacity) never binds, so its row is dropped and each car's share of all such
 * steps becomes one column bounded by their sum. Only the contended steps keep a column per car.
 */
export function programOf({ windows, steps, supplyKwh, demandKwh }: Prepared): Program {
  const p: Program = { colUpper: [], starts: [0], rowIndex: [], rowUpper: [] };
  const rowOf = new Int32Array(supplyKwh.length).fill(-1);
  const column = (upperKwh: number, rows: number[]) => {
    p.colUpper.push(upperKwh);
    p.rowIndex.push(...rows);
    p.starts.push(p.rowIndex.length);
  };
  for (const w of windows) {
    const carRow = p.rowUpper.length;
    p.rowUpper.push(w.a.wantKwh);
    let slackKwh = 0;
    for (const [j, m] of w.parkedMin.entries()) {
      const upperKwh = (w.a.maxKw * m) / 60;
      if (upperKwh <= 1e-12) continue;
      const key = w.site * steps + w.first + j;
      if ((demandKwh[key] as number) <= (supplyKwh[key] as number)) {
        slackKwh += upperKwh;
        continue;
      }
      if ((rowOf[key] as number) < 0) {
        rowOf[key] = p.rowUpper.length;
        p.rowUpper.push(supplyKwh[key] as number);
      }
      column(upperKwh, [carRow, rowOf[key] as number]);
    }
    if (slackKwh > 0) column(slackKwh, [carRow]);
  }
  return p;
}

/**
 * A feasible schedule of the same program, least laxity first in each step, and whether it reaches
 * the trivial bound Σ min(asked, maxKw × parked): if it does, no schedule can deliver more, so it is the
 * optimum, proved without the solver (often so when capacity is ample: the shipped day's 10,380 cars).
 */
export function leastLaxityFirst({ windows, steps, supplyKwh }: Prepared): {
  deliveredKwh: number;
  boundKwh: number;
} {
  let boundKwh = 0;
  const leftKwh = windows.map((w) => {
    const reachKwh = w.parkedMin.reduce((sum, m) => sum + (w.a.maxKw * m) / 60, 0);
    boundKwh += Math.min(w.a.wantKwh, reachKwh);
    return w.a.wantKwh;
  });
  // Cars by the step they arrive in; at each step the parked ones, least laxity first: the energy a car could
  // still take after this step minus what it still needs to reach its bound (negative: it cannot any more).
  const arriving: number[][] = Array.from({ length: steps }, () => []);
  for (const [i, w] of windows.entries()) (arriving[w.first] as number[]).push(i);
  const reachLeft = windows.map((w) => w.parkedMin.reduce((sum, m) => sum + (w.a.maxKw * m) / 60, 0));
  const needLeft = windows.map((w, i) => Math.min(w.a.wantKwh, reachLeft[i] as number));
  const laxity = (i: number) => (reachLeft[i] as number) - (needLeft[i] as number);
  const byLaxity = (x: number, y: number) => laxity(x) - laxity(y);
  const supplyLeft = Float64Array.from(supplyKwh);
  let deliveredKwh = 0;
  let parked: number[] = [];
  for (let k = 0; k < steps; k++) {
    const come = arriving[k] as number[];
    parked = parked.concat(come).sort(byLaxity);
    for (const i of parked) {
      const w = windows[i] as Window;
      const key = w.site * steps + k;
      const give = Math.min(
        leftKwh[i] as number,
        (w.a.maxKw * (w.parkedMin[k - w.first] as number)) / 60,
        supplyLeft[key] as number,
      );
      reachLeft[i] = (reachLeft[i] as number) - (w.a.maxKw * (w.parkedMin[k - w.first] as number)) / 60;
      if (give <= 0) continue;
      needLeft[i] = (needLeft[i] as number) - give;
      leftKwh[i] = (leftKwh[i] as number) - give;
      supplyLeft[key] = (supplyLeft[key] as number) - give;
      deliveredKwh += give;
    }
    parked = parked.filter((i) => {
      const w = windows[i] as Window;
      return k + 1 < w.first + w.parkedMin.length && (leftKwh[i] as number) > 0;
    });
  }
  return { deliveredKwh, boundKwh };
}
