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
  // A floor above the maximum still gets the maximum (shareAtLevel): counted as such.
  const floor = (d: Demand, i: number) => Math.min(d.maxKw, floorsKw ? (floorsKw[i] as number) : d.minKw);
  let sumMin = 0;
  let sumMax = 0;
  demands.forEach((d, i) => {
    const n = d.count ?? 1;
    sumMin += n * floor(d, i);
    sumMax += n * d.maxKw;
  });
  if (sumMax <= availableKw) return Number.POSITIVE_INFINITY;
  if (sumMin >= availableKw) return Number.NEGATIVE_INFINITY;

  // A session rises with the level between L = min/w and L = max/w, at slope w. One whose floor is its
  // maximum never rises: it stays in `fixedKw` and needs no breakpoints (many do, once lifted by need).
  const events: { at: number; slope: number; kw: number; isMin: boolean }[] = [];
  demands.forEach((d, i) => {
    const n = d.count ?? 1;
    const w = d.weight ?? 1;
    const minKw = floor(d, i);
    if (n === 0 || minKw >= d.maxKw) return;
    events.push(
      { at: minKw / w, slope: n * w, kw: n * minKw, isMin: true },
      { at: d.maxKw / w, slope: n * w, kw: n * d.maxKw, isMin: false },
    );
  });
  events.sort((a, b) => a.at - b.at);

  // Below every breakpoint each session sits at its minimum: f(L) = sumMin, slope 0.
  let fixedKw = sumMin; // minimums of sessions not yet lifted + maximums of sessions already capped
  let rising = 0; // total weight of the sessions whose share currently equals weight × L
  let prevAt = 0;
  for (const e of events) {
    if (rising > 0 && fixedKw + rising * e.at >= availableKw) {
      return Math.max(prevAt, (availableKw - fixedKw) / rising);
    }
    fixedKw += e.isMin ? -e.kw : e.kw;
    rising += e.isMin ? e.slope : -e.slope;
    prevAt = e.at;
  }
  return prevAt; // unreachable when sumMax > available, kept for safety
}

/** What the demands would draw if everyone had their maximum. */
export function maximaKw(demands: readonly Demand[]): number {
  let sumKw = 0;
  for (const d of demands) sumKw += (d.count ?? 1) * d.maxKw;
  return sumKw;
}
