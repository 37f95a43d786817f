import type { DispatchRequest, Session, SessionNeeds } from "@evgrid/contract";
import {
  deliverableKwh,
  type LongTimeout,
  type Scheduler,
  setLongTimeout,
  strictDepartureCheck,
  systemScheduler,
} from "@evgrid/kit";
import { CROSSING_LEAD_S, projectAtDeparture } from "@evgrid/policy";
import type { NeedOf, OwnSession } from "./power-class.ts";
import type { LiveSession } from "./sessions.ts";

/** A session's departure as the station keeps it. */
export interface Departure {
  departAtMs: number;
  /** What even its maximum could deliver by then, as of admission. */
  maxDeliverableKwh: number;
}

/**
 * The departure a request names, checked against this substation's clock: a `strict` request whose energy
 * its maximum cannot deliver in time is refused (DEPARTURE_UNREACHABLE, with `details.maxDeliverableKwh`);
 * without strict it is admitted and delivers what it can. null without a departure.
 */
export function departureOf(req: DispatchRequest, nowMs: number): Departure | null {
  return "energyKwh" in req ? strictDepartureCheck(req, nowMs) : null;
}

/**
 * Takes the car's needs into a live session (its energy target, its departure); true if it already has
 * that energy. The caller re-arms its end timer and moves it to a class of its own.
 */
export function takeNeeds(live: LiveSession, needs: SessionNeeds, nowMs: number): boolean {
  live.energyKwh = needs.energyKwh;
  live.durationS = null;
  if (needs.departAt !== undefined) {
    const departAtMs = Date.parse(needs.departAt);
    const leftKwh = deliverableKwh(live.maxKw, departAtMs, nowMs);
    live.departure = { departAtMs, maxDeliverableKwh: drawnKwh(live, nowMs) + leftKwh };
  }
  return drawnKwh(live, nowMs) >= needs.energyKwh - 1e-9;
}

/** A journaled session's departure, as it comes back after a restart (what its maximum can still deliver). */
export function departureAfterRestart(
  rec: { departAtMs: number | null; maxKw: number; deliveredKwh: number },
  nowMs: number,
): Departure | null {
  if (rec.departAtMs === null) return null;
  const leftKwh = deliverableKwh(rec.maxKw, rec.departAtMs, nowMs);
  return { departAtMs: rec.departAtMs, maxDeliverableKwh: rec.deliveredKwh + leftKwh };
}

/** Why a session ends at its departure: its energy, if it has just had it (a tie), or its departure. */
export const reasonAtDeparture = (live: LiveSession, nowMs: number): "energy_delivered" | "departed" =>
  drawnKwh(live, nowMs) >= (live.energyKwh ?? 0) - 1e-6 ? "energy_delivered" : "departed";

/** Energy drawn so far: the charger's meter once it reports, else what the allocation integrates to. */
export const drawnKwh = (live: LiveSession, nowMs: number): number =>
  live.meteredKwh ?? live.cls.integralAt(nowMs) - live.startKwh;

/** The need a departure session's class re-shares with (read at each re-share). */
export const needOf =
  (live: () => LiveSession): NeedOf =>
  (nowMs) => {
    const s = live();
    return {
      energyLeftKwh: Math.max(0, (s.energyKwh ?? 0) - drawnKwh(s, nowMs)),
      departInS: ((s.departure?.departAtMs ?? nowMs) - nowMs) / 1000,
    };
  };

/** A departure session's class of one (power-class.ts): its need, and its departure, read from the session. */
export const ownClassOf = (sessionId: string, live: () => LiveSession): OwnSession => ({
  id: sessionId,
  need: needOf(live),
  departAtMs: () => live().departure?.departAtMs,
});

/** What the wire shows of a departure: when, what it will have by then at its allocation now, on track. */
export function departureView(
  live: LiveSession,
  deliveredKwh: number,
  nowMs: number,
): Pick<Session, "departAt" | "projectedKwh" | "onTrack" | "maxDeliverableKwh"> {
  const d = live.departure;
  if (!d || live.energyKwh === null) return { departAt: null, projectedKwh: null, onTrack: null };
  const { projectedKwh, onTrack } = projectAtDeparture({
    targetKwh: live.energyKwh,
    deliveredKwh,
    departInS: (d.departAtMs - nowMs) / 1000,
    allocatedKw: live.cls.allocatedKw,
  });
  return {
    departAt: new Date(d.departAtMs).toISOString(),
    projectedKwh,
    onTrack,
    maxDeliverableKwh: d.maxDeliverableKwh,
  };
}

/**
 * Re-shares when time changes the departures' need order (a session runs out of slack, or can no longer make
 * its departure), but no more often than every `minIntervalMs`: a re-share costs O(k log k) for k classes.
 * The bound is on these timed re-shares only; one an event causes (a start, an end, a limit) neither waits
 * for it nor holds the timer back. At each re-share the policy treats a session within `guardS` of running
 * out of slack (the time until the timer may fire again, plus CROSSING_LEAD_S) as out of it, so the wait
 * never costs it its departure, even with the timer up to CROSSING_LEAD_S late (a busy event loop); the
 * timer itself is set for the crossing (CROSSING_LEAD_S before).
 */
export class CrossingTimer {
  private timer: LongTimeout | undefined;
  /** When the timer last fired, on the scheduler's clock. */
  private firedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly minIntervalMs: number,
    private readonly reshare: () => void,
    private readonly scheduler: Scheduler = systemScheduler,
  ) {}

  /** Milliseconds until the timer may fire again (0: it may now). */
  private holdMs(): number {
    return Math.max(0, this.firedAtMs + this.minIntervalMs - this.scheduler.now());
  }

  /**
   * The policy's guard, in seconds: the time until the timer may next re-share, and CROSSING_LEAD_S for a
   * timer that fires late. Without it, a re-share that finds a session's slack just over the hold arms the
   * next for the hold's end, when as little as a millisecond of it is left.
   */
  get guardS(): number {
    return this.holdMs() / 1000 + CROSSING_LEAD_S;
  }

  /** After any re-share: arm for the next crossing, `inS` seconds away (Infinity: none). */
  arm(inS: number): void {
    this.timer?.clear();
    this.timer = undefined;
    if (!Number.isFinite(inS)) return;
    // Rounded up: a timer a fraction of a millisecond early would find the order not changed yet.
    const dueMs = Math.max(Math.ceil(inS * 1000), this.holdMs());
    this.timer = setLongTimeout(
      () => {
        this.firedAtMs = this.scheduler.now();
        this.reshare();
      },
      dueMs,
      this.scheduler,
    );
  }

  clear(): void {
    this.timer?.clear();
  }
}
