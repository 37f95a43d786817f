/**
 * One site's bookkeeping step, in plain data and virtual time: what a substation decides when a session asks
 * to start (admit), when anything changes (re-share), when the operator's limit drops (curtail) and, where a
 * site keeps a queue, when power frees up (serve waiters). The substation's Station calls it on its power
 * classes; the simulator's engine on its sessions or classes (apps/simulator: choice, sharing, class books).
 *
 * Contract for callers:
 * - Times are the caller's (virtual or wall): a demand's need is given as seconds left, never as a clock.
 * - `demands` is any grouping the caller likes (one per session, or per class with `count`); the answers
 *   come back in the same order. The caller keeps what it delivers; nothing here holds state.
 * - After `reshareSite`, re-share again when a session starts or ends, the limit changes, or `nextCrossingS`
 *   seconds have passed (no sooner than the caller's bounded rate): the need order changes then.
 * - Admission counts minimums only (`committedMinKw`): floors lifted by need are never promised.
 */
import { type AdmissionDecision, type Capacity, decideAdmission, effectiveCapacityKw } from "./admission.ts";
import { curtailNewestFirst } from "./curtailment.ts";
import type { NeedDemand } from "./deadline.ts";
import { NeedTable } from "./need-table.ts";
import { byClassThenArrival, type PriorityClass } from "./priority.ts";

export interface SiteShares {
  /** The water level above the floors; null: nobody is held below their maximum. 0: only minimums fit. */
  levelKw: number | null;
  /** Each demand's floor: its minimum, lifted by its departure's need. */
  floorsKw: number[];
  /** Each demand's share (per session of a class). */
  sharesKw: number[];
  /** Seconds until time changes the need order (a session's standing); +Infinity without departures. */
  nextCrossingS: number;
}

/** Admit: all-or-nothing on the minimum (packages/policy admission). */
export const admitTo = (site: Capacity, committedMinKw: number, minKw: number): AdmissionDecision =>
  decideAdmission(site, committedMinKw, minKw);

/**
 * Re-share: floors by need, then water-filling from them, within the site's effective capacity. Without
 * departures, exactly today's water-filling. `guardS`: how long until the caller may next re-share on time
 * alone (see needFloors); 0 when it re-shares the moment `nextCrossingS` says. O(k + m log k)
 * for k demands and m lifted when the floors take all the power (a busy site), O(k log k) when some is left.
 */
export function reshareSite(site: Capacity, demands: readonly NeedDemand[], guardS = 0): SiteShares {
  const table = NeedTable.scratchOf(demands);
  const { levelKw, nextCrossingS } = reshareTable(site, table, guardS);
  return {
    levelKw,
    floorsKw: Array.from(table.floorsKw.subarray(0, table.size)),
    sharesKw: Array.from(table.sharesKw.subarray(0, table.size)),
    nextCrossingS,
  };
}

/**
 * reshareSite on a table its caller fills and keeps (need-table.ts): the floors and shares are left in
 * `table.floorsKw` and `table.sharesKw`. What a caller re-sharing hundreds of sessions at every event uses
 * (the simulator): nothing is allocated per session.
 */
export function reshareTable(
  site: Capacity,
  table: NeedTable,
  guardS = 0,
): { levelKw: number | null; nextCrossingS: number } {
  const availableKw = effectiveCapacityKw(site);
  table.laxities();
  const spareKw = table.lift(availableKw, guardS);
  // Nothing left over the floors: they are the shares, with no level above them (null if they are every
  // maximum, as waterLevel says). A sweep would find a level only in the floors' rounding error.
  const level =
    spareKw > 0
      ? table.waterLevel(availableKw, true)
      : table.maximaKw() <= availableKw
        ? Number.POSITIVE_INFINITY
        : Number.NEGATIVE_INFINITY;
  const levelKw = level === Number.POSITIVE_INFINITY ? null : Math.max(0, level);
  table.shareAt(levelKw);
  return { levelKw, nextCrossingS: table.nextStandingChangeS(guardS) };
}

/** Curtail: how many of the newest sessions to end so that the minimums left fit the capacity in force. */
export const curtailSite = (site: Capacity, minimumsNewestFirst: readonly number[], committedMinKw: number) =>
  curtailNewestFirst(minimumsNewestFirst, committedMinKw, effectiveCapacityKw(site));

/**
 * Serve waiters: offered freed power higher class first, then by arrival; one that cannot start (`tryStart`
 * false) does not block the ones behind it. Returns those started, in the order they were.
 */
export function serveWaiters<W extends { priority?: PriorityClass | undefined; seq: number }>(
  waiters: readonly W[],
  tryStart: (w: W) => boolean,
): W[] {
  return [...waiters].sort(byClassThenArrival).filter((w) => tryStart(w));
}
