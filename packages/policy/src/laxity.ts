import { GRAIN_S, laxityS, type NeedDemand, outOfSlack } from "./deadline.ts";

/**
 * Seconds until time changes the need order at these shares: two deadline sessions' laxities cross, or one's
 * laxity reaches 0 (it can no longer make its departure alone). +Infinity if neither happens. A session's
 * laxity falls by 1 - share/max per second (constant at its maximum); one behind catches one ahead only if
 * it falls faster. Sessions that fall alike (one slope: a kind of car at its minimum, or every car at its
 * maximum) never cross each other, so each slope's laxities are sorted as plain numbers and each pair of
 * slopes is compared in one pass: O(k log k + k·s) for k demands and s slopes; with many slopes (tapering
 * maxima), one sort and neighbours only (a kinetic sort), O(k log k). The caller re-shares then, no sooner
 * than its bounded rate allows.
 */
export function nextLaxityCrossingS(demands: readonly NeedDemand[], sharesKw: readonly number[]): number {
  const bySlope = new Map<number, number[]>();
  demands.forEach((d, i) => {
    const laxity = laxityS(d);
    if (laxity === null || (d.energyLeftKwh ?? 0) <= 0) return;
    const slope = Math.min(0, (sharesKw[i] ?? 0) / d.maxKw - 1);
    if (Number.isNaN(slope) || Number.isNaN(laxity)) return; // no maximum, or no time: no lane to follow
    const run = bySlope.get(slope);
    if (run) run.push(laxity);
    else bySlope.set(slope, [laxity]);
  });
  if (bySlope.size > MAX_SLOPES) return soonestByNeighbours(bySlope);
  const runs = [...bySlope].map(([slope, run]) => ({ slope, laxities: new Float64Array(run).sort() }));
  let soonestS = Number.POSITIVE_INFINITY;
  for (const ahead of runs) {
    // The least positive laxity of a run reaches 0 first.
    const positive = ahead.laxities.find((x) => x > 0);
    if (positive !== undefined && ahead.slope < 0) soonestS = Math.min(soonestS, positive / -ahead.slope);
    for (const behind of runs) {
      if (behind.slope >= ahead.slope) continue;
      // The least gap from a laxity of `ahead` up to one of `behind` (equal laxities have no order to change).
      let j = 0;
      for (const laxity of ahead.laxities) {
        while (j < behind.laxities.length && (behind.laxities[j] as number) <= laxity) j++;
        if (j === behind.laxities.length) break;
        soonestS = Math.min(
          soonestS,
          ((behind.laxities[j] as number) - laxity) / (ahead.slope - behind.slope),
        );
      }
    }
  }
  return soonestS;
}

/** Past this many slopes, pairs of slopes cost more than one sort. */
const MAX_SLOPES = 8;

/** In laxity order the next crossing is between neighbours: one sort of every session. */
function soonestByNeighbours(bySlope: ReadonlyMap<number, readonly number[]>): number {
  const lanes: { laxity: number; slope: number }[] = [];
  for (const [slope, run] of bySlope) for (const laxity of run) lanes.push({ laxity, slope });
  // Equal laxities in the order just after now (the faster falling first), so neighbours are every pair
  // that can cross.
  lanes.sort((a, b) => a.laxity - b.laxity || a.slope - b.slope);
  let soonestS = Number.POSITIVE_INFINITY;
  lanes.forEach((lane, i) => {
    if (lane.laxity > 0 && lane.slope < 0) soonestS = Math.min(soonestS, lane.laxity / -lane.slope);
    const next = lanes[i + 1];
    if (next && next.slope < lane.slope && next.laxity > lane.laxity)
      soonestS = Math.min(soonestS, (next.laxity - lane.laxity) / (lane.slope - next.slope));
  });
  return soonestS;
}

/**
 * How long before its slack runs out a session with slack is re-shared (seconds, or the guard if that is
 * less): then its laxity is this much, not a rounding error from 0 where it would count as unable to make
 * its departure, and a timer a little late (a busy event loop) still finds it able to.
 */
export const CROSSING_LEAD_S = 0.25;

/**
 * Seconds until time alone changes a session's `standing` at these shares (the need order of shareByNeed):
 * one with slack runs out of it (its laxity falls to CROSSING_LEAD_S, or to `guardS` if that is less: the
 * re-share then finds it out of slack), or one out of slack can no longer make its departure (its laxity
 * falls more than GRAIN_S below 0). Within a standing the order is by departure, which time does not
 * change. +Infinity if neither happens. O(k) for k demands.
 *
 * Timed for the crossing itself, not the guard early: a session with more than `guardS` of slack now has
 * some left when the caller may re-share again (laxity falls at most 1 s a second), and every re-share in
 * between lifts one already within `guardS` of its crossing (standing 0). So a session is lifted early only
 * when a re-share falls within its last `guardS` of slack, not at every crossing.
 */
export function nextStandingChangeS(
  demands: readonly NeedDemand[],
  sharesKw: readonly number[],
  guardS = 0,
): number {
  let soonestS = Number.POSITIVE_INFINITY;
  demands.forEach((d, i) => {
    const laxity = laxityS(d);
    if (laxity === null || (d.energyLeftKwh ?? 0) <= 0 || laxity < -GRAIN_S) return;
    const fallPerS = 1 - Math.min(1, (sharesKw[i] ?? 0) / d.maxKw);
    if (fallPerS <= 0) return;
    // Out of slack, it is unable once its laxity is a grain below 0: timed for two, so the re-share finds it.
    const toS = outOfSlack(laxity, guardS)
      ? laxity + 2 * GRAIN_S
      : laxity - Math.min(guardS, CROSSING_LEAD_S);
    soonestS = Math.min(soonestS, toS / fallPerS);
  });
  return soonestS;
}
