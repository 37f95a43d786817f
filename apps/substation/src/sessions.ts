import type { Priority, Session } from "@evgrid/contract";
import { type LongTimeout, MapFront } from "@evgrid/kit";
import type { Departure } from "./departures.ts";
import type { IdempotencyKeys } from "./idempotency.ts";
import { type SessionRecord, sessionOf } from "./journal-rows.ts";
import type { EnergyGoal, PowerClass } from "./power-class.ts";

/** A session charging now, as the station keeps it. */
export interface LiveSession {
  sessionId: string;
  vehicleId: string;
  /** As requested; the class's maximum is lower while a cap is set (reclaim). */
  maxKw: number;
  /** An effective maximum below maxKw while the vehicle draws less (set by the OCPP gateway); null: none. */
  capKw: number | null;
  /** Energy as the charger's meter reports it; once set, it is the session's delivered energy and ends it. */
  meteredKwh: number | null;
  /**
   * Its own minimum, while its class's differs: pinned (its charger takes no limits; the class's is its
   * maximum), or lowered to what the car itself can take (setCap's carMaxKw).
   */
  unpinnedMinKw?: number;
  /** Its own minimum less its class's while its car takes less (PowerPool.holdBack): kept from admission. */
  heldBackKw?: number;
  cls: PowerClass;
  startedAtMs: number;
  durationS: number | null;
  energyKwh: number | null;
  /** When an energy session's vehicle leaves (it ends then if its energy is not delivered); null: never. */
  departure: Departure | null;
  /** The class's energy integral when this session started: delivered = integral now - this. */
  startKwh: number;
  idempotencyKey: string | null;
  owner: string;
  /** Its priority class: a weight in the fair share. */
  priority: Priority;
  /** Ends a time-based session, or a departure session at its departure. */
  timer: LongTimeout | undefined;
  /** Ends an energy-based session, in its class's queue of goals. */
  goal: EnergyGoal | undefined;
}

/**
 * Where a station finds its sessions: the active ones, each vehicle's (one at a time), each (owner, key)'s,
 * and the last `endedRetention` ended ones (older ones are left to the journal).
 */
export class SessionBook {
  readonly active = new Map<string, LiveSession>();
  private readonly ended = new Map<string, Ended>();
  /** The oldest ended session, to forget past retention (`ended.keys().next()` grows dear: kit's MapFront). */
  private readonly oldestEnded: MapFront<string>;
  private readonly byVehicle = new Map<string, string>();

  constructor(
    /** The station's own id, which its ended sessions name. */
    private readonly substationId: string,
    readonly keys: IdempotencyKeys,
    /** Ended sessions kept in memory. */
    readonly retention: number,
  ) {
    this.oldestEnded = new MapFront(this.ended, retention);
  }

  add(live: LiveSession): void {
    this.active.set(live.sessionId, live);
    this.byVehicle.set(live.vehicleId, live.sessionId);
    this.keys.remember(live.owner, live.idempotencyKey, live.sessionId);
  }

  /** Takes an active session out; undefined if it is not active. */
  remove(sessionId: string): LiveSession | undefined {
    const live = this.active.get(sessionId);
    if (!live) return undefined;
    this.active.delete(sessionId);
    if (this.byVehicle.get(live.vehicleId) === sessionId) this.byVehicle.delete(live.vehicleId);
    return live;
  }

  /** The active session of this vehicle, if any. */
  activeOf(vehicleId: string): string | undefined {
    return this.byVehicle.get(vehicleId);
  }

  /** Keeps an ended session queryable (and its key answered), forgetting the oldest past retention. */
  rememberEnded(session: Session): void {
    this.ended.set(session.sessionId, compact(session));
    this.keys.remember(session.owner, session.idempotencyKey, session.sessionId);
    const oldest = this.oldestEnded.over();
    if (oldest === undefined) return;
    const old = this.ended.get(oldest);
    // The key stays honoured from the journal for the rest of its time to live.
    if (old) this.keys.forget(old.owner, old.idempotencyKey, oldest);
    this.ended.delete(oldest);
  }

  /** Forgets an ended session and its key (one the journal never had: its start was refused). */
  forgetEnded(sessionId: string): Session | undefined {
    const ended = this.ended.get(sessionId);
    if (!ended) return undefined;
    this.ended.delete(sessionId);
    this.keys.forget(ended.owner, ended.idempotencyKey, sessionId);
    return wireOf(ended, this.substationId);
  }

  /** Whose session this is, if the station holds it (active or ended): what idempotency keys are scoped to. */
  ownerOf(sessionId: string): string | undefined {
    return this.active.get(sessionId)?.owner ?? this.ended.get(sessionId)?.owner;
  }

  endedSession(sessionId: string): Session | undefined {
    const ended = this.ended.get(sessionId);
    return ended && wireOf(ended, this.substationId);
  }

  *endedSessions(): IterableIterator<Session> {
    for (const ended of this.ended.values()) yield wireOf(ended, this.substationId);
  }
}

type Tail = Pick<Session, "departAt" | "projectedKwh" | "onTrack" | "maxDeliverableKwh">;
/** The departure fields of a session without one, as a live one ends (shared) or as the journal gives it. */
const NO_DEPARTURE: Tail = Object.freeze({ departAt: null, projectedKwh: null, onTrack: null });
const NO_DEPARTURE_JOURNALED: Tail = Object.freeze({ departAt: null });

/**
 * An ended session as a station keeps it (10,000 of them by default): its journal record (times as numbers,
 * not ISO strings; what every ended session shares not held per session), its cap, and its departure fields
 * as it ended. Its wire form is rebuilt when asked for, identical, as the journal's rows are (sessionOf).
 */
interface Ended extends Omit<SessionRecord, "meteredKwh"> {
  capKw: number | null;
  tail: Tail;
}

/** Only for an ended session (what rememberEnded is given): its constants are not kept. */
function compact(s: Session): Ended {
  const has = (k: keyof Tail) => k in s;
  let tail: Tail;
  if (s.departAt === null && s.projectedKwh === null && s.onTrack === null && !has("maxDeliverableKwh"))
    tail = NO_DEPARTURE;
  else if (s.departAt === null && !has("projectedKwh") && !has("onTrack") && !has("maxDeliverableKwh"))
    tail = NO_DEPARTURE_JOURNALED;
  else {
    const keys = ["departAt", "projectedKwh", "onTrack", "maxDeliverableKwh"] as const;
    tail = Object.fromEntries(keys.filter(has).map((k) => [k, s[k]])) as Tail;
  }
  return {
    sessionId: s.sessionId,
    vehicleId: s.vehicleId,
    minKw: s.minKw,
    maxKw: s.maxKw,
    startedAtMs: Date.parse(s.startedAt),
    durationS: s.durationS,
    energyKwh: s.energyKwh,
    deliveredKwh: s.deliveredKwh,
    status: "ended",
    endedAtMs: s.endedAt === null ? null : Date.parse(s.endedAt),
    endReason: s.endReason,
    idempotencyKey: s.idempotencyKey,
    owner: s.owner,
    priority: s.priority,
    departAtMs: null, // the departure is the tail's, as it ended
    movedToSubstationId: s.movedToSubstationId ?? null,
    capKw: s.capKw,
    tail,
  };
}

const wireOf = (e: Ended, substationId: string): Session => ({
  ...sessionOf(e, substationId),
  capKw: e.capKw,
  ...e.tail,
});
