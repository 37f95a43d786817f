import { laxityS, type NeedDemand, outOfSlack } from "./deadline.ts";

/**
 * Seconds until time changes the need order at these shares: two deadline sessions' laxities cross, or one's
 * laxity reaches 0 (it can no longer make its departure alone). +Infinity if neither happens. A session's
 * laxity falls by 1 - share/max per second (constant at its maximum), so in laxity order the next crossing is
 * between neighbours (a kinetic sort): O(k log k) for k demands. The caller re-shares then, no sooner than
 * its bounded rate allows.
 */
export function nextLaxityCrossingS(demands: readonly NeedDemand[], sharesKw: readonly number[]): number {
  const lanes: { laxity: number; slope: number }[] = [];
  demands.forEach((d, i) => {
    const laxity = laxityS(d);
    if (laxity === null || (d.energyLeftKwh ?? 0) <= 0) return;
    lanes.push({ laxity, slope: Math.min(0, (sharesKw[i] ?? 0) / d.maxKw - 1) });
  });
  lanes.sort((a, b) => a.laxity - b.laxity);
  let soonestS = Number.POSITIVE_INFINITY;
  lanes.forEach((lane, i) => {
    if (lane.laxity > 0 && lane.slope < 0) soonestS = Math.min(soonestS, lane.laxity / -lane.slope);
    const next = lanes[i + 1];
    // The one behind (more laxity) falls faster: it overtakes. Equal laxities have no order to change.
    if (next && next.slope < lane.slope && next.laxity > lane.laxity)
      soonestS = Math.min(soonestS, (next.laxity - lane.laxity) / (lane.slope - next.slope));
  });
  return soonestS;
}

/**
 * Seconds until time alone changes a session's `standing` at these shares (the need order of shareByNeed):
 * one with slack runs out of it (its laxity falls to `guardS`), or one out of slack can no longer make its
 * departure (its laxity falls below 0). Within a standing the order is by departure, which time does not
 * change. +Infinity if neither happens. O(k) for k demands.
 */
export function nextStandingChangeS(
  demands: readonly NeedDemand[],
  sharesKw: readonly number[],
  guardS = 0,
): number {
  let soonestS = Number.POSITIVE_INFINITY;
  demands.forEach((d, i) => {
    const laxity = laxityS(d);
    if (laxity === null || (d.energyLeftKwh ?? 0) <= 0 || laxity < 0) return;
    const fallPerS = 1 - Math.min(1, (sharesKw[i] ?? 0) / d.maxKw);
    if (fallPerS <= 0) return;
    const toS = outOfSlack(laxity, guardS) ? laxity : laxity - guardS;
    soonestS = Math.min(soonestS, toS / fallPerS);
  });
  return soonestS;
}
