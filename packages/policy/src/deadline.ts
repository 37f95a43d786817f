import { type Demand, shareFairly } from "./water-filling.ts";

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

/** Whether it can still have its energy by its departure on its own (at its maximum). */
export const canMakeIt = (d: NeedDemand): boolean => (requiredKw(d) ?? 0) <= d.maxKw;

/**
 * Each demand's floor for this re-share: its minimum, lifted towards its required rate (capped at its
 * maximum) with the power left above all the minimums. Lifted in need order: those that can still make their
 * departure first (one that cannot never takes from one that can), then the higher priority weight, then the
 * least laxity. Demands without a deadline keep their minimum. O(k log k) for k demands.
 */
export function needFloors(demands: readonly NeedDemand[], availableKw: number): number[] {
  const floors = demands.map((d) => d.minKw);
  let spareKw = availableKw;
  for (const d of demands) spareKw -= (d.count ?? 1) * d.minKw;
  const order: { i: number; feasible: boolean; weight: number; laxity: number }[] = [];
  demands.forEach((d, i) => {
    const laxity = laxityS(d);
    if (laxity === null || (requiredKw(d) ?? 0) <= d.minKw) return;
    order.push({ i, feasible: canMakeIt(d), weight: d.weight ?? 1, laxity });
  });
  order.sort((a, b) => Number(b.feasible) - Number(a.feasible) || b.weight - a.weight || a.laxity - b.laxity);
  for (const { i } of order) {
    if (spareKw <= 0) break;
    const d = demands[i] as NeedDemand;
    const n = d.count ?? 1;
    if (n === 0) continue;
    const wantKw = Math.min(d.maxKw, requiredKw(d) ?? 0) - d.minKw;
    const liftKw = Math.min(wantKw, spareKw / n);
    floors[i] = d.minKw + liftKw;
    spareKw -= n * liftKw;
  }
  return floors;
}

/**
 * Deadline-aware shares: every minimum kept, each deadline's required rate served in need order
 * (needFloors), then what is left water-filled exactly as shareFairly does, from those floors. Without a
 * deadline it IS shareFairly. Work-conserving: power stays unused only when everyone has their maximum.
 * O(k log k) for k demands.
 */
export function shareByNeed(demands: readonly NeedDemand[], availableKw: number): number[] {
  if (!demands.some(hasDeadline)) return shareFairly(demands, availableKw);
  const floors = needFloors(demands, availableKw);
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
