export interface Demand {
  minKw: number;
  maxKw: number;
}

/**
 * Max-min fair shares with floors and caps ("water-filling"): every session gets clamp(level, minKw, maxKw)
 * for the single water level at which the shares add up to the available power. No session can gain without
 * taking from one that has the same or less, nobody is below its minimum, nobody above its maximum.
 *
 * If the minimums alone exceed the power (only after an operator cut), everybody gets the minimum and the
 * caller must shed sessions. O(n log n).
 */
export function shareFairly(demands: readonly Demand[], availableKw: number): number[] {
  let sumMin = 0;
  let sumMax = 0;
  for (const d of demands) {
    sumMin += d.minKw;
    sumMax += d.maxKw;
  }
  if (sumMax <= availableKw) return demands.map((d) => d.maxKw);
  if (sumMin >= availableKw) return demands.map((d) => d.minKw);
  const level = waterLevel(demands, availableKw, sumMin);
  return demands.map((d) => Math.min(d.maxKw, Math.max(d.minKw, level)));
}

/**
 * Solves sum(clamp(L, min_i, max_i)) = available for L. The sum is continuous, non-decreasing and linear
 * between breakpoints (the mins and maxes), so sweep the breakpoints in order and solve inside the first
 * segment whose end reaches the target.
 */
function waterLevel(demands: readonly Demand[], availableKw: number, sumMin: number): number {
  type Event = { at: number; isMin: boolean };
  const events: Event[] = [];
  for (const d of demands) {
    events.push({ at: d.minKw, isMin: true }, { at: d.maxKw, isMin: false });
  }
  // At equal values, process maxes first is not needed: a session with min == max contributes
  // its value either way; order only matters for the slope inside open segments, which excludes ties.
  events.sort((a, b) => a.at - b.at);

  // Below every breakpoint each session sits at its minimum: f(L) = sumMin, slope 0.
  let fixedKw = sumMin; // minimums of sessions not yet lifted + maximums of sessions already capped
  let rising = 0; // sessions whose share currently equals L
  let prevAt = 0;
  for (const e of events) {
    const fAtE = fixedKw + rising * e.at;
    if (fAtE >= availableKw && rising > 0) {
      return Math.max(prevAt, (availableKw - fixedKw) / rising);
    }
    if (e.isMin) {
      fixedKw -= e.at;
      rising += 1;
    } else {
      fixedKw += e.at;
      rising -= 1;
    }
    prevAt = e.at;
  }
  return prevAt; // unreachable when sumMax > available, kept for safety
}
