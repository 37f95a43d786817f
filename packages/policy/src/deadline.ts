import { NeedTable } from "./need-table.ts";
import { rankOf } from "./slack.ts";
import { type Demand, shareFairly } from "./water-filling.ts";

export { GRAIN_S, outOfSlack } from "./slack.ts";

const S_PER_HOUR = 3600;

/** A demand that may know when it leaves: "this much energy by then". */
export interface NeedDemand extends Demand {
  /** Energy still wanted by the departure, in kWh; absent (with `departInS`): no deadline. */
  energyLeftKwh?: number | undefined;
  /** Seconds until the vehicle leaves; absent: no deadline. */
  departInS?: number | undefined;
}

const hasDeadline = (d: NeedDemand): d is NeedDemand & { energyLeftKwh: number; departInS: number } =>
  d.energyLeftKwh !== undefined && d.departInS !== undefined;

/**
 * The constant power that delivers the energy left exactly at the departure (energy left / time left); null
 * without a deadline, +Infinity once the time is up with energy still wanted, 0 when nothing is left.
 */
export function requiredKw(d: NeedDemand): number | null {
  if (!hasDeadline(d)) return null;
  if (d.energyLeftKwh <= 0) return 0;
  return d.departInS > 0 ? (d.energyLeftKwh * S_PER_HOUR) / d.departInS : Number.POSITIVE_INFINITY;
}

/** Time left minus the time needed at its maximum, in seconds (negative: it cannot make it); null without a deadline. */
export function laxityS(d: NeedDemand): number | null {
  if (!hasDeadline(d)) return null;
  return d.departInS - (Math.max(0, d.energyLeftKwh) * S_PER_HOUR) / d.maxKw;
}

/**
 * Where a deadline session stands in the need order, first served first:
 * 0. it can still make its departure but has no slack left (laxity at or below the guard: how long until
 *    the caller may next re-share on time alone): it gets its required rate, so it makes its departure
 *    whatever cars that cannot make theirs are here;
 * 1. it cannot make its departure even at its maximum: every kW it gets is energy delivered, so it goes next;
 * 2. it can make its departure with slack to spare: it can wait, and does, behind the two above.
 * null: no deadline, or nothing left to deliver (it shares what is left like any session).
 */
export function standing(d: NeedDemand, guardS = 0): 0 | 1 | 2 | null {
  const laxity = laxityS(d);
  if (laxity === null || (d.energyLeftKwh ?? 0) <= 0) return null;
  // Unable only beyond the grain: a re-share timed for the moment its slack runs out finds it a rounding
  // error below 0, and must still serve it first (at its maximum, its required rate then).
  return rankOf(laxity, guardS);
}

/**
 * Each demand's floor for this re-share: its minimum, lifted with the power left above all the minimums in
 * need order (`standing`, then the higher priority weight, then the earliest departure): a session out of
 * slack to its required rate, every other deadline session to its maximum (front-loaded: a car that is
 * full early frees its EVSE and its minimum for the next one). Demands without a deadline keep their
 * minimum. `guardS` is how long until the caller may next re-share on time alone: a session whose slack runs
 * out before then is served as out of slack now.
 */
export const needFloors = (demands: readonly NeedDemand[], availableKw: number, guardS = 0): number[] =>
  liftByNeed(demands, availableKw, guardS).floorsKw;

/**
 * needFloors, and the power left over the floors (0 or less: nothing is left to water-fill). Each standing
 * gets what is left when its turn comes, in need order, and is never sorted: a selection finds where the
 * power runs out (in-order.ts). O(k) expected for k demands, O(k log k) at worst.
 */
export function liftByNeed(
  demands: readonly NeedDemand[],
  availableKw: number,
  guardS = 0,
): { floorsKw: number[]; spareKw: number } {
  const table = NeedTable.scratchOf(demands);
  table.laxities();
  const spareKw = table.lift(availableKw, guardS);
  return { floorsKw: Array.from(table.floorsKw.subarray(0, table.size)), spareKw };
}

/**
 * Deadline-aware shares: every minimum kept, deadline sessions lifted in need order (needFloors), then what
 * is left water-filled exactly as shareFairly does, from those floors. Without a deadline it IS shareFairly.
 * Work-conserving: power stays unused only when everyone has their maximum. O(k log k) for k demands.
 */
export function shareByNeed(demands: readonly NeedDemand[], availableKw: number, guardS = 0): number[] {
  if (!demands.some(hasDeadline)) return shareFairly(demands, availableKw);
  const floors = needFloors(demands, availableKw, guardS);
  return shareFairly(
    demands.map((d, i) => ({ ...d, minKw: floors[i] as number })),
    availableKw,
  );
}

/**
 * What a session will have by its departure if it keeps `allocatedKw` (its current allocation), and whether
 * that meets its target: delivered so far plus power x time left, never above the target.
 */
export function projectAtDeparture(s: {
  targetKwh: number;
  deliveredKwh: number;
  departInS: number;
  allocatedKw: number;
}): { projectedKwh: number; onTrack: boolean } {
  const moreKwh = (s.allocatedKw * Math.max(0, s.departInS)) / S_PER_HOUR;
  const projectedKwh = Math.min(s.targetKwh, s.deliveredKwh + moreKwh);
  return { projectedKwh, onTrack: projectedKwh >= s.targetKwh - 1e-9 };
}
