import type {
  DispatchRequest,
  PowerEvent,
  Session,
  SessionNeeds,
  SessionUpdate,
  StopMovedInput,
  SubstationLoad,
} from "@evgrid/contract";
import { movedSessionId, setLongTimeout } from "@evgrid/kit";
import { PRIORITY_WEIGHT } from "@evgrid/policy";
import { alreadyMoved, checkAdmission, closing, replayOf } from "./admission.ts";
import { departureOf, ownClassOf, reasonAtDeparture, takeNeeds } from "./departures.ts";
import { sessionOf } from "./journal.ts";
import type { StartRecord } from "./journal-events.ts";
import type { JournalWrites } from "./journal-writes.ts";
import type { LiveSession } from "./sessions.ts";
import { StationOps } from "./station-ops.ts";
import { activeSession } from "./wire.ts";

export type { Recovery } from "./recovery.ts";
export type { StationOptions } from "./station-core.ts";

/**
 * One substation's sessions, and the coordinator of its parts: the session book (sessions.ts), the power
 * pool (power-pool.ts), admission (admission.ts), the journal (journal-writes.ts), recovery (recovery.ts)
 * and the wire view (wire.ts). Every mutation runs synchronously from check to commit, so two admissions can
 * never interleave: the event loop makes the substation the atomic authority. After every change the power
 * is re-shared at once.
 */
export class Station extends StationOps {
  /**
   * Admits a vehicle, or refuses it with a typed reason. The session takes its share of power at once (so the
   * next admission of this turn sees it), and is answered once the journal has it: if the journal's group
   * commit fails, the admission is undone and refused 503 JOURNAL_UNAVAILABLE.
   */
  async start(
    req: DispatchRequest,
    pastDeadline = false,
  ): Promise<{ session: Session; load: SubstationLoad; replayed: boolean }> {
    if (this.closed) throw closing(this.id);
    // A retry of a request this substation already answered gets the same session, even if it is full now.
    const key = req.idempotencyKey ?? null;
    const earlier =
      key === null
        ? undefined
        : this.book.keys.find(req.owner, key, this.now(), (id) => this.held(id), req.newKey === true);
    if (earlier !== undefined) {
      // A retry within the same turn waits for the first one's commit, and shares its fate.
      await this.uncommitted.get(earlier.sessionId);
      return { session: replayOf(req, earlier), load: this.load(), replayed: true };
    }
    checkAdmission(
      req,
      {
        substationId: this.id,
        draining: this.draining,
        site: this.site(),
        committedMinKw: this.pool.committedMinKw,
        activeOfVehicle: this.book.activeOf(req.vehicleId),
        load: () => this.load(),
        pastDeadline,
      },
      this.hooks.onRefuse,
    );
    const nowMs = this.now();
    const departure = departureOf(req, nowMs);
    // Time-ordered (UUIDv7, 74 random bits): the journal's index of ends by session grows at its right edge,
    // one page written per commit instead of a random page per end. A booking that goes on here has the id
    // derived from its own (its owner finds it from that); one booking goes on in one session.
    const sessionId =
      req.movedFrom === undefined
        ? `${this.id}.${Bun.randomUUIDv7().replaceAll("-", "")}`
        : movedSessionId(this.id, req.movedFrom);
    if (req.movedFrom !== undefined && (this.held(sessionId) ?? this.journaled(sessionId)))
      throw alreadyMoved(this.id, req.movedFrom);
    const durationS = "durationS" in req ? req.durationS : null;
    const energyKwh = "energyKwh" in req ? req.energyKwh : null;
    const priority = req.priority ?? "standard";
    // Capped from the start (as setCap clamps it): power above the cap goes to the others.
    const capKw = req.capKw !== undefined && req.capKw < req.maxKw ? Math.max(req.minKw, req.capKw) : null;
    const own = departure ? ownClassOf(sessionId, () => live) : undefined;
    const cls = this.pool.classFor(req.minKw, capKw ?? req.maxKw, nowMs, PRIORITY_WEIGHT[priority], own);
    const live: LiveSession = this.activate(
      {
        sessionId,
        vehicleId: req.vehicleId,
        maxKw: req.maxKw,
        capKw,
        meteredKwh: null,
        cls,
        startedAtMs: nowMs,
        durationS,
        energyKwh,
        departure,
        startKwh: cls.integralAt(nowMs),
        idempotencyKey: key,
        owner: req.owner,
        priority,
      },
      nowMs,
    );
    this.reshare(nowMs);
    if (this.writes) {
      // Journaled before it is answered: if it cannot be, the vehicle is refused rather than admitted and
      // forgotten at the next restart.
      const start: StartRecord = {
        sessionId,
        vehicleId: req.vehicleId,
        minKw: req.minKw,
        maxKw: req.maxKw,
        startedAtMs: nowMs,
        durationS,
        energyKwh,
        idempotencyKey: key,
        owner: req.owner,
        priority,
        departAtMs: departure?.departAtMs ?? null,
      };
      await this.commitStart(this.writes, start, () => this.undo(live));
    }
    const session = activeSession(this.id, live, nowMs);
    this.hooks.onStart?.(session);
    return { session, load: this.load(), replayed: false };
  }

  /**
   * What the car needs (OCPP gateway: NotifyEVChargingNeeds): its energy, and when it leaves. A time-based
   * session (a walk-in) becomes energy-based; the session re-shares by its need at once.
   */
  setNeeds(needs: SessionNeeds): Session {
    const live = this.activeOrNotFound(needs.sessionId);
    const nowMs = this.now();
    // Journal first: needs that could not be written are refused, so memory and journal never disagree.
    const departAtMs =
      needs.departAt === undefined ? (live.departure?.departAtMs ?? null) : Date.parse(needs.departAt);
    this.writes?.needs({ sessionId: live.sessionId, energyKwh: needs.energyKwh, departAtMs });
    // Its books closed under the departure it had: its class reads the departure lazily, so one moved
    // earlier (into the past: a flush's wait, another host's clock) would take back energy already drawn.
    live.cls.accrue(nowMs);
    const enough = takeNeeds(live, needs, nowMs);
    live.timer?.clear();
    live.timer =
      departAtMs === null
        ? undefined
        : setLongTimeout(
            () => this.end(live.sessionId, reasonAtDeparture(live, this.now())),
            departAtMs - nowMs,
            this.scheduler,
          );
    if (enough) return this.end(live.sessionId, "energy_delivered");
    this.moveToClass(live, live.cls.minKw, live.cls.maxKw, nowMs);
    this.reshare(nowMs);
    return activeSession(this.id, live, nowMs);
  }

  /**
   * The owner's stop of a booking that ended `moved` to this substation: the session it goes on in here is
   * stopped (or answered as it ended). Not admitted yet (its car waits for room), it is recorded ended before
   * it began: in memory at once, so an admission for the booking is BOOKING_ALREADY_MOVED from now on (the
   * OCPP gateway then stops the car's transaction), and in the journal before the answer. Another owner's
   * is "not found". Without this the stop ended nothing, and the car charged once room came.
   */
  async stopMoved(input: StopMovedInput): Promise<{ session: Session; load: SubstationLoad }> {
    const sessionId = movedSessionId(this.id, input.movedFrom);
    // An admission (or a record) in flight: its fate first, as a write that fails undoes it, end and all.
    await this.uncommitted.get(sessionId)?.catch(() => {});
    if (this.held(sessionId) ?? this.journaled(sessionId)) return this.stop(sessionId, input.owner);
    if (this.closed) throw closing(this.id);
    const nowMs = this.now();
    const start = {
      sessionId,
      vehicleId: input.vehicleId,
      minKw: input.minKw,
      maxKw: input.maxKw,
      startedAtMs: nowMs,
      // Timed, a millisecond: a restart between its start and its end in the journal finds its time passed
      // and ends it (0 kWh), never resumes it (a second resumed would hold its minimum for that second).
      durationS: 0.001,
      energyKwh: null,
      idempotencyKey: null,
      owner: input.owner,
      priority: "standard" as const,
      departAtMs: null,
    };
    const end = {
      deliveredKwh: 0,
      endedAtMs: nowMs,
      endReason: "stopped" as const,
      movedToSubstationId: null,
    };
    const session = sessionOf({ ...start, ...end, status: "ended" }, this.id);
    this.book.rememberEnded(session);
    if (this.writes) {
      // Not kept unjournaled: a retry would be answered from memory, and a restart would admit the car.
      await this.commitStart(this.writes, start, () => this.book.forgetEnded(sessionId));
      this.writes.ended({ sessionId, ...end });
    }
    return { session, load: this.load() };
  }

  /**
   * A start journaled before it is answered, in flight in `uncommitted` meanwhile (a retry, or a moved
   * booking's stop, waits for its fate); `undo` if it cannot be written, and the caller's error stands.
   */
  private async commitStart(writes: JournalWrites, start: StartRecord, undo: () => void): Promise<void> {
    const committed = writes.started(start);
    this.uncommitted.set(start.sessionId, committed);
    try {
      await committed;
    } catch (err) {
      undo();
      throw err;
    } finally {
      this.uncommitted.delete(start.sessionId);
    }
  }

  /**
   * Every re-share's water level and every end, from the current level on, until `signal` aborts (the
   * gateway works out each of its sessions' power from the level: packages/policy shareAtLevel).
   */
  watchPower(signal?: AbortSignal): AsyncGenerator<PowerEvent> {
    return this.feed.watch(this.levelEvent(), signal);
  }

  /**
   * One session as it changes: its state now, then each change of its power, its energy at least every
   * `everyMs`, and its end (the last update). With `owner`, only that owner's session.
   */
  async *watchSession(
    sessionId: string,
    owner: string | undefined,
    signal: AbortSignal | undefined,
    everyMs = 5000,
  ): AsyncGenerator<SessionUpdate> {
    const first = this.get(sessionId, owner);
    yield updateOf(first, this.now());
    if (first.status === "ended") return;
    let lastKw = first.allocatedKw;
    let lastAtMs = this.now();
    const events = this.feed.watch(this.levelEvent(), signal);
    let pending = events.next();
    try {
      for (;;) {
        // The next event, or a periodic update of the energy if none comes for `everyMs`.
        const timer = new Promise<"tick">((resolve) => setTimeout(resolve, everyMs, "tick").unref());
        const next = await Promise.race([pending, timer]);
        if (next !== "tick") {
          if (next.done) return;
          pending = events.next();
          const event = next.value;
          if (event.type === "ended" && event.sessionId !== sessionId) continue;
        }
        const session = this.held(sessionId);
        if (!session) return;
        const nowMs = this.now();
        if (session.status === "ended") {
          yield updateOf(session, nowMs);
          return;
        }
        if (next === "tick" || session.allocatedKw !== lastKw || nowMs - lastAtMs >= everyMs) {
          lastKw = session.allocatedKw;
          lastAtMs = nowMs;
          yield updateOf(session, nowMs);
        }
      }
    } finally {
      await events.return(undefined);
    }
  }
}

const updateOf = (s: Session, atMs: number): SessionUpdate => ({
  sessionId: s.sessionId,
  status: s.status,
  allocatedKw: s.allocatedKw,
  deliveredKwh: s.deliveredKwh,
  endReason: s.endReason,
  ...(s.projectedKwh == null ? {} : { projectedKwh: s.projectedKwh, onTrack: s.onTrack }),
  atMs,
});
