/** One vehicle's visit as the engine tracks it, from its arrival until it is settled (then only its EVSE). */
import type { PriorityClass } from "@evgrid/policy";
import type { Arrival } from "./arrivals.ts";
import type { SessionOutcome, SessionRecord } from "./records.ts";
import type { Live, Site } from "./site.ts";

/** An arrival as the engine reads it: the input may name the station (one EVSE) it charged at. */
export type EngineArrival = Arrival & { stationId?: string | undefined };

export interface Vehicle {
  a: EngineArrival;
  /** Its class under this policy (standard for all when the policy has no priorities). */
  priority: PriorityClass;
  /** Queue order: arrival order (the arrival's id), kept when it waits again after a cut. */
  seq: number;
  deliveredKwh: number;
  state: "waiting" | "charging" | "done" | "gone";
  /** When it was first admitted; null while it never was. */
  admittedMin: number | null;
  /** When its current (or last) wait began: its arrival, or the moment it was cut. */
  waitFromMin: number;
  waitedMin: number;
  /** Bumped each time it starts waiting: older queue entries for it are stale. */
  waitEpoch: number;
  /** Its station's site when the data names one: it charges there or nowhere. */
  boundSite: Site | null;
  /** Where it charges (or last charged, or holds an EVSE). */
  site: Site | null;
  live: Live | null;
  holdsEvse: boolean;
  curtailed: number;
  /**
   * Whether its departure is in the timeline: only once it first charges (a waiting car leaves by its
   * give-up, due at its departure at the latest), so refused cars leave nothing behind in the heap.
   */
  departScheduled: boolean;
}

export function newVehicle(a: EngineArrival, priorities: boolean, boundSite: Site | null): Vehicle {
  return {
    a,
    priority: priorities ? a.priority : "standard",
    seq: a.id,
    deliveredKwh: 0,
    state: "waiting",
    admittedMin: null,
    waitFromMin: a.arriveMin,
    waitedMin: 0,
    waitEpoch: 0,
    boundSite,
    site: null,
    live: null,
    holdsEvse: false,
    curtailed: 0,
    departScheduled: false,
  };
}

/** How its visit ended: a car that was admitted once charged, whatever came after. */
export const outcomeOf = (v: Vehicle, noEvse: boolean): SessionOutcome =>
  v.admittedMin !== null ? "charged" : noEvse ? "no-evse" : "refused";

export const recordOf = (v: Vehicle, noEvse: boolean): SessionRecord => ({
  id: v.a.id,
  sessionId: v.a.sessionId ?? null,
  siteId: v.site?.id ?? null,
  stationId: v.a.stationId ?? null,
  arriveMin: v.a.arriveMin,
  departMin: v.a.departMin,
  askedKwh: v.a.wantKwh,
  deliveredKwh: v.deliveredKwh,
  waitedMin: v.waitedMin,
  outcome: outcomeOf(v, noEvse),
});
