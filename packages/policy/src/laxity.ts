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
  const lanes = lanesOf(table);
  if (lanes === null) return soonestByNeighbours(bySlopeOf(table));
  let soonestS = Number.POSITIVE_INFINITY;
  for (const ahead of lanes) {
    // The least positive laxity of a run reaches 0 first.
    if (ahead.leastPositive < Number.POSITIVE_INFINITY && ahead.slope < 0) {
      soonestS = Math.min(soonestS, ahead.leastPositive / -ahead.slope);
    }
    for (const behind of lanes) {
      if (behind.slope < ahead.slope) soonestS = Math.min(soonestS, soonestCatch(table, ahead, behind));
    }
  }
  return soonestS;
}

/** The rows that follow a lane (a slope), and a deadline row's laxity: time alone changes nothing else. */
const follows = (table: NeedTable, i: number): boolean =>
  !Number.isNaN(table.departInS[i] as number) &&
  (table.leftKwh[i] as number) > 0 &&
  !Number.isNaN(table.laxityS[i] as number);

/** The slope a row's laxity falls at (1 - share/max a second, 0 at its maximum); NaN without a maximum. */
const slopeOf = (table: NeedTable, i: number): number =>
  Math.min(0, (table.sharesKw[i] as number) / (table.maxKw[i] as number) - 1);

/**
 * One slope's laxities: their least, most and least positive, found in one pass over the rows; the laxities
 * themselves, sorted, only for a pair of lanes that interleave (rows of the lane: `laneOfRow`).
 */
interface Lane {
  index: number;
  slope: number;
  least: number;
  most: number;
  leastPositive: number;
  sorted: Float64Array | null;
}

/** Each row's lane in the last `lanesOf` (-1: none). */
let laneOfRow = new Int32Array(16);

/**
 * The lanes of the deadline rows, or null past MAX_SLOPES. A site has few slopes (a kind of car at its
 * maximum, at its minimum, one in between): each row's is found among the few seen so far, with no array
 * or Map entry per row.
 */
function lanesOf(table: NeedTable): Lane[] | null {
  const { size, laxityS } = table;
  if (laneOfRow.length < size) laneOfRow = new Int32Array(Math.max(size, 2 * laneOfRow.length));
  const rows = laneOfRow;
  const { slopes, least, most, leastPositive } = stats;
  let n = 0;
  let last = -1;
  for (let i = 0; i < size; i++) {
    rows[i] = -1;
    if (!follows(table, i)) continue;
    const laxity = laxityS[i] as number;
    const slope = slopeOf(table, i);
    if (Number.isNaN(slope)) continue; // no maximum: no lane to follow
    let j = last >= 0 && slopes[last] === slope ? last : 0;
    while (j < n && slopes[j] !== slope) j++;
    if (j === n) {
      if (n === MAX_SLOPES) return null;
      openLane(j, slope);
      n++;
    }
    last = j;
    least[j] = Math.min(least[j] as number, laxity);
    most[j] = Math.max(most[j] as number, laxity);
    if (laxity > 0) leastPositive[j] = Math.min(leastPositive[j] as number, laxity);
    rows[i] = j;
  }
  return Array.from({ length: n }, (_, j) => ({
    index: j,
    slope: slopes[j] as number,
    least: least[j] as number,
    most: most[j] as number,
    leastPositive: leastPositive[j] as number,
    sorted: null,
  }));
}

/** Every deadline row's laxity by slope: for the kinetic sort past MAX_SLOPES. */
function bySlopeOf(table: NeedTable): Map<number, number[]> {
  const bySlope = new Map<number, number[]>();
  for (let i = 0; i < table.size; i++) {
    const slope = slopeOf(table, i);
    if (!follows(table, i) || Number.isNaN(slope)) continue;
    const run = bySlope.get(slope);
    if (run) run.push(table.laxityS[i] as number);
    else bySlope.set(slope, [table.laxityS[i] as number]);
  }
  return bySlope;
}

/** Seconds until a laxity of `behind` (falling faster) catches one of `ahead` from above. */
function soonestCatch(table: NeedTable, ahead: Lane, behind: Lane): number {
  const fallS = ahead.slope - behind.slope;
  // Every laxity behind above every one ahead (the rule served the least laxities first, so a kind of car
  // at its maximum and the same kind at its minimum are apart): the least gap is between the two ends.
  if (behind.least > ahead.most) return (behind.least - ahead.most) / fallS;
  // Interleaved: the least gap from a laxity of `ahead` up to one of `behind`, both sorted (equal laxities
  // have no order to change).
  const a = sortedOf(table, ahead);
  const b = sortedOf(table, behind);
  let soonestS = Number.POSITIVE_INFINITY;
  let j = 0;
  for (const laxity of a) {
    while (j < b.length && (b[j] as number) <= laxity) j++;
    if (j === b.length) break;
    soonestS = Math.min(soonestS, ((b[j] as number) - laxity) / fallS);
  }
  return soonestS;
}

/** A lane's laxities, sorted (gathered from the rows of the last `lanesOf`, once). */
function sortedOf(table: NeedTable, lane: Lane): Float64Array {
  if (lane.sorted) return lane.sorted;
  const laxities: number[] = [];
  for (let i = 0; i < table.size; i++)
    if (laneOfRow[i] === lane.index) laxities.push(table.laxityS[i] as number);
  lane.sorted = new Float64Array(laxities).sort();
  return lane.sorted;
}

/** Past this many slopes, pairs of slopes cost more than one sort. */
const MAX_SLOPES = 8;

/** lanesOf's running figures per lane. */
const stats = {
  slopes: new Float64Array(MAX_SLOPES),
  least: new Float64Array(MAX_SLOPES),
  most: new Float64Array(MAX_SLOPES),
  leastPositive: new Float64Array(MAX_SLOPES),
};

function openLane(j: number, slope: number): void {
  stats.slopes[j] = slope;
  stats.least[j] = Number.POSITIVE_INFINITY;
  stats.most[j] = Number.NEGATIVE_INFINITY;
  stats.leastPositive[j] = Number.POSITIVE_INFINITY;
}

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
