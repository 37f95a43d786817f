import type { NeedDemand } from "./deadline.ts";
import { NeedTable } from "./need-table.ts";

export { CROSSING_LEAD_S } from "./slack.ts";

/**
 * Seconds until time changes the need order at these shares: two deadline sessions' laxities cross, or one's
 * laxity reaches 0 (it can no longer make its departure alone). +Infinity if neither happens. A session's
 * laxity falls by 1 - share/max per second (constant at its maximum); one behind catches one ahead only if
 * it falls faster. Sessions that fall alike (one slope: a kind of car at its minimum, or every car at its
 * maximum) never cross each other, so only pairs of slopes are compared: two slopes whose laxities lie
 * apart (LLF serves the least laxities first, so those at their maximum are below those at their minimum)
 * by their ends, in O(k); interleaved ones by their sorted laxities in one pass: O(k log k + k·s) at worst
 * for k demands and s slopes. With many slopes (tapering maxima), one sort and neighbours only (a kinetic
 * sort), O(k log k). The caller re-shares then, no sooner
 * than its bounded rate allows.
 */
export function nextLaxityCrossingS(demands: readonly NeedDemand[], sharesKw: readonly number[]): number {
  const table = NeedTable.scratchOf(demands);
  for (let i = 0; i < table.size; i++) table.sharesKw[i] = sharesKw[i] ?? 0;
  table.laxities();
  return nextLaxityCrossingOf(table);
}

/** nextLaxityCrossingS on a table (need-table.ts) with its laxities and shares filled in. */
export function nextLaxityCrossingOf(table: NeedTable): number {
  const bySlope = lanesOf(table);
  if (bySlope.size > MAX_SLOPES) return soonestByNeighbours(bySlope);
  const runs = [...bySlope].map(([slope, run]) => laneOf(slope, run));
  let soonestS = Number.POSITIVE_INFINITY;
  for (const ahead of runs) {
    // The least positive laxity of a run reaches 0 first.
    if (ahead.leastPositive < Number.POSITIVE_INFINITY && ahead.slope < 0) {
      soonestS = Math.min(soonestS, ahead.leastPositive / -ahead.slope);
    }
    for (const behind of runs) {
      if (behind.slope < ahead.slope) soonestS = Math.min(soonestS, soonestCatch(ahead, behind));
    }
  }
  return soonestS;
}

/** Each deadline row's laxity, by the slope it falls at (1 - share/max a second). */
function lanesOf(table: NeedTable): Map<number, number[]> {
  const { size, departInS, leftKwh, laxityS, sharesKw, maxKw } = table;
  const bySlope = new Map<number, number[]>();
  for (let i = 0; i < size; i++) {
    if (Number.isNaN(departInS[i] as number) || (leftKwh[i] as number) <= 0) continue;
    const laxity = laxityS[i] as number;
    const slope = Math.min(0, (sharesKw[i] as number) / (maxKw[i] as number) - 1);
    if (Number.isNaN(slope) || Number.isNaN(laxity)) continue; // no maximum, or no time: no lane to follow
    const run = bySlope.get(slope);
    if (run) run.push(laxity);
    else bySlope.set(slope, [laxity]);
  }
  return bySlope;
}

/** Seconds until a laxity of `behind` (falling faster) catches one of `ahead` from above. */
function soonestCatch(ahead: Lane, behind: Lane): number {
  const fallS = ahead.slope - behind.slope;
  // Every laxity behind above every one ahead (the rule served the least laxities first, so a kind of car
  // at its maximum and the same kind at its minimum are apart): the least gap is between the two ends.
  if (behind.least > ahead.most) return (behind.least - ahead.most) / fallS;
  // Interleaved: the least gap from a laxity of `ahead` up to one of `behind`, both sorted (equal laxities
  // have no order to change).
  const a = sortedOf(ahead);
  const b = sortedOf(behind);
  let soonestS = Number.POSITIVE_INFINITY;
  let j = 0;
  for (const laxity of a) {
    while (j < b.length && (b[j] as number) <= laxity) j++;
    if (j === b.length) break;
    soonestS = Math.min(soonestS, ((b[j] as number) - laxity) / fallS);
  }
  return soonestS;
}

/** One slope's laxities: their least, most and least positive, and their sorted copy once one is needed. */
interface Lane {
  slope: number;
  laxities: number[];
  least: number;
  most: number;
  leastPositive: number;
  sorted: Float64Array | null;
}

function laneOf(slope: number, laxities: number[]): Lane {
  let least = Number.POSITIVE_INFINITY;
  let most = Number.NEGATIVE_INFINITY;
  let leastPositive = Number.POSITIVE_INFINITY;
  for (const x of laxities) {
    if (x < least) least = x;
    if (x > most) most = x;
    if (x > 0 && x < leastPositive) leastPositive = x;
  }
  return { slope, laxities, least, most, leastPositive, sorted: null };
}

function sortedOf(lane: Lane): Float64Array {
  lane.sorted ??= new Float64Array(lane.laxities).sort();
  return lane.sorted;
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
  const table = NeedTable.scratchOf(demands);
  for (let i = 0; i < table.size; i++) table.sharesKw[i] = sharesKw[i] ?? 0;
  table.laxities();
  return table.nextStandingChangeS(guardS);
}
