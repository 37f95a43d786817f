import type { Priority, Session } from "@evgrid/contract";
import type { LongTimeout } from "@evgrid/kit";
import type { Departure } from "./departures.ts";
import type { IdempotencyKeys } from "./idempotency.ts";
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
  /** Set while pinned (its charger takes no limits): its own minimum, the class's being its maximum. */
  unpinnedMinKw?: number;
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
  private readonly ended = new Map<string, Session>();
  private readonly byVehicle = new Map<string, string>();

  constructor(
    readonly keys: IdempotencyKeys,
    /** Ended sessions kept in memory. */
    readonly retention: number,
  ) {}

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
    this.ended.set(session.sessionId, session);
    this.keys.remember(session.owner, session.idempotencyKey, session.sessionId);
    if (this.ended.size <= this.retention) return;
    const oldest = this.ended.keys().next().value;
    if (oldest === undefined) return;
    const old = this.ended.get(oldest);
    // The key stays honoured from the journal for the rest of its time to live.
    if (old) this.keys.forget(old.owner, old.idempotencyKey, oldest);
    this.ended.delete(oldest);
  }

  endedSession(sessionId: string): Session | undefined {
    return this.ended.get(sessionId);
  }

  endedSessions(): IterableIterator<Session> {
    return this.ended.values();
  }
}
