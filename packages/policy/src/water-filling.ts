import { NeedTable } from "./need-table.ts";

export interface Demand {
  minKw: number;
  maxKw: number;
  /** Identical sessions this demand stands for (default 1): lets a substation share by power class. */
  count?: number;
  /**
   * Its priority weight (default 1): above the minimums, shares grow in proportion to weight, each still
   * capped at its maximum. Equal weights give exactly the unweighted shares.
   */
  weight?: number;
}

/**
 * Max-min fair shares with floors and caps ("water-filling"): every session gets clamp(weight × level,
 * minKw, maxKw) for the single water level at which the shares add up to the available power. No session can gain without
 * taking from one that has the same or less, nobody is below its minimum, nobody above its maximum.
 *
 * Returns one share per demand (per session of a class when `count` is given). If the minimums alone exceed
 * the power (only after an operator cut), everybody gets the minimum and the caller must shed sessions.
 * O(k log k) for k demands.
 */
export function shareFairly(demands: readonly Demand[], availableKw: number): number[] {
  const level = waterLevel(demands, availableKw);
  return demands.map((d) => shareAtLevel(d, level));
}

/**
 * One session's share at a water level: clamp(weight × level, minKw (or a floor lifted by need), maxKw). A
 * substation streams its level (null: no level binds, everyone has their maximum) and a watcher works out each
 * session's power with this.
 */
export function shareAtLevel(
  d: { minKw: number; maxKw: number; weight?: number | undefined },
  level: number | null,
  floorKw = d.minKw,
): number {
  return Math.min(d.maxKw, Math.max(floorKw, (d.weight ?? 1) * (level ?? Number.POSITIVE_INFINITY)));
}

/**
 * The level L solving sum(count_i * clamp(weight_i * L, min_i, max_i)) = available; +Infinity when everyone can have
 * their maximum, -Infinity when not even the minimums fit. The sum is continuous, non-decreasing and linear
 * between breakpoints (the mins and maxes), so sweep them in order and solve in the first segment that
 * reaches the target. `floorsKw`, when given, stands in for each demand's `minKw` (floors lifted by need),
 * so the caller need not copy its demands.
 */
export function waterLevel(
  demands: readonly Demand[],
  availableKw: number,
  floorsKw?: readonly number[],
): number {
  const table = NeedTable.scratchOf(demands);
  if (floorsKw) for (let i = 0; i < table.size; i++) table.floorsKw[i] = floorsKw[i] as number;
  return table.waterLevel(availableKw, floorsKw !== undefined);
}

/** What the demands would draw if everyone had their maximum. */
export function maximaKw(demands: readonly Demand[]): number {
  let sumKw = 0;
  for (const d of demands) sumKw += (d.count ?? 1) * d.maxKw;
  return sumKw;
}
