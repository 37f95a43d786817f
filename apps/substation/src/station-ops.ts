import type { Session, StopReason, SubstationLoad } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { decideAdmission, KW_EPSILON, PRIORITY_WEIGHT } from "@evgrid/policy";
import { departureAfterRestart, drawnKwh, ownClassOf } from "./departures.ts";
import { sessionOf } from "./journal.ts";
import type { EnergyFigure } from "./journal-checkpoint.ts";
import { type Recovery, recoveryOf } from "./recovery.ts";
import type { LiveSession } from "./sessions.ts";
import { StationCore } from "./station-core.ts";
import { activeSession } from "./wire.ts";

/** A substation's operations on sessions already started, its operator's settings and its life cycle. */
export abstract class StationOps extends StationCore {
  /**
   * The grid operator's limit. If the new limit cannot cover the admitted minimums, the newest sessions are
   * ended ("curtailed") until it can: the promise to the older ones is kept, and the shed ones are told why.
   */
  setLimit(limitKw: number | null): { load: SubstationLoad; curtailed: Session[] } {
    // Journal first: a limit that could not be written is refused, so memory and journal never disagree.
    this.writes?.setting("limitKw", limitKw === null ? null : String(limitKw));
    this.limitKw = limitKw;
    const curtailed = this.curtailToFit();
    return { load: this.load(), curtailed };
  }

  /**
   * Power drawn at the site that no session holds, as `source` counts it (the OCPP gateway: chargers drawing
   * with no open transaction); 0 lifts it. It comes off the capacity and the operator's limit (DrawHolds):
   * new sessions are admitted, and the others' shares lowered, to fit beside it. Nobody is curtailed for it.
   */
  setDrawHold(source: string, kw: number): SubstationLoad {
    if (this.holds.set(source, kw)) this.reshare(this.now());
    return this.load();
  }

  /**
   * Drain (operator, or SIGTERM): no new sessions; the ones charging run to their end. Remembered in the
   * journal, so a drained substation stays drained across a restart until undrained.
   */
  setDraining(draining: boolean, persist = true): SubstationLoad {
    if (persist) this.writes?.setting("draining", draining ? "true" : null);
    this.draining = draining;
    this.version += 1;
    return this.load();
  }

  /**
   * Takes up what the journal holds after a restart: every active session comes back with its id, start
   * time and energy drawn so far (as of the last checkpoint: a crash costs the vehicle at most that much
   * accounting, never a second session); those whose time ran out meanwhile are ended as they would have been.
   */
  recover(): Recovery {
    const writes = this.writes;
    if (!writes) return { resumed: 0, endedWhileDown: 0, curtailed: 0 };
    const nowMs = this.now();
    const { journal } = writes;
    for (const rec of journal.recentlyEnded(this.book.retention))
      this.book.rememberEnded(sessionOf(rec, this.id));
    let resumed = 0;
    let endedWhileDown = 0;
    for (const rec of journal.active()) {
      const plan = recoveryOf(rec, nowMs);
      if ("end" in plan) {
        // Kept and retried if the journal is full: a restart on a full disk must come up, not crash.
        writes.ended(plan.end);
        this.book.rememberEnded(sessionOf({ ...rec, ...plan.end, status: "ended" }, this.id));
        this.endedEnergyKwh += rec.deliveredKwh;
        endedWhileDown += 1;
        continue;
      }
      const departure = departureAfterRestart(rec, nowMs);
      const own = departure ? ownClassOf(rec.sessionId, () => live) : undefined;
      const cls = this.pool.classFor(rec.minKw, rec.maxKw, nowMs, PRIORITY_WEIGHT[rec.priority], own);
      const live: LiveSession = this.activate(
        {
          sessionId: rec.sessionId,
          vehicleId: rec.vehicleId,
          maxKw: rec.maxKw,
          capKw: null,
          // Its meter's reading as of the last checkpoint: the meter still decides when it has its energy.
          meteredKwh: rec.meteredKwh,
          cls,
          startedAtMs: rec.startedAtMs,
          durationS: rec.durationS,
          energyKwh: rec.energyKwh,
          departure,
          // So that energy drawn = integral now - startKwh = what was drawn before the crash.
          startKwh: cls.integralAt(nowMs) - rec.deliveredKwh,
          idempotencyKey: rec.idempotencyKey,
          owner: rec.owner,
          priority: rec.priority,
        },
        nowMs,
      );
      resumed += 1;
    }
    this.reshare(nowMs);
    const curtailed = this.curtailToFit().length;
    return { resumed: resumed - curtailed, endedWhileDown, curtailed };
  }

  /**
   * Writes the energy every active session has drawn so far (its charger's meter once it reports, up to its
   * target), and each meter's reading, after retrying ends the journal could not take before: a restart
   * resumes each where it was (a metered one still ended by its meter), and one that ends while the substation
   * is down is recorded with it. Never throws: a full journal is counted.
   */
  checkpoint(): void {
    if (!this.writes || this.closed) return;
    this.writes.flush();
    const nowMs = this.now();
    const rows: EnergyFigure[] = [];
    for (const live of this.book.active.values()) {
      const drawn = drawnKwh(live, nowMs);
      const deliveredKwh = Math.min(drawn, live.energyKwh ?? drawn);
      // Nothing drawn yet and no meter is what the journal knows already (a start): no room taken for it.
      if (live.meteredKwh !== null || drawn > 0)
        rows.push({ sessionId: live.sessionId, deliveredKwh, meteredKwh: live.meteredKwh });
    }
    this.writes.checkpoint(rows);
  }

  /** Total energy delivered since start: ended sessions plus what active ones have drawn so far. O(classes). */
  energyDeliveredKwh(): number {
    return this.endedEnergyKwh + this.pool.activeEnergyKwh(this.now());
  }

  /** Stops all timers after a last checkpoint; active sessions stay in the journal for the next start. */
  close(): void {
    this.checkpoint();
    this.writes?.flush(); // this turn's group, with the last checkpoint: nothing waits for a later turn
    this.closed = true;
    this.checkpoints?.cancel();
    for (const live of this.book.active.values()) live.timer?.clear();
    this.pool.disarm();
    this.crossings.clear();
  }

  /** Takes back an admission the journal could not take: as if it never happened. */
  protected undo(live: LiveSession): void {
    if (this.book.active.get(live.sessionId) !== live) {
      // Ended meanwhile (a stalled turn, a stop, a curtailment): the journal never had it, so neither its
      // key nor its end may answer anyone (a retry with the key would replay a session no restart knows).
      const ended = this.book.forgetEnded(live.sessionId);
      if (ended) this.endedEnergyKwh -= ended.deliveredKwh;
      return;
    }
    this.book.remove(live.sessionId);
    this.book.keys.forget(live.owner, live.idempotencyKey, live.sessionId);
    live.timer?.clear();
    this.pool.holdBack(live, 0);
    this.pool.leave(live);
    this.reshare(this.now());
  }

  /**
   * Ends a session now (`stopped`; `charger_offline` when the OCPP gateway gave up on its charger; `moved`
   * when it claimed the booking at a charger of another substation, `movedTo`, where it goes on). With
   * `owner`, only that owner's session: anybody else's is "not found". An ended session is answered as it is.
   */
  stop(
    sessionId: string,
    owner?: string,
    reason: StopReason = "stopped",
    movedTo?: string,
  ): { session: Session; load: SubstationLoad } {
    const found = this.get(sessionId, owner);
    const session = this.book.active.has(sessionId)
      ? this.end(sessionId, reason, true, reason === "moved" ? movedTo : undefined)
      : found;
    return { session, load: this.load() };
  }

  /**
   * The charger's meter (OCPP gateway): from now on the session's delivered energy is what its meter says,
   * and an energy-based session ends when the meter reaches its target, not when its allocation would have.
   */
  meter(sessionId: string, energyKwh: number): Session {
    const live = this.activeOrNotFound(sessionId);
    live.meteredKwh = Math.max(live.meteredKwh ?? 0, energyKwh); // a meter never runs backwards
    if (live.goal) {
      live.goal.done = true; // the meter decides now
      live.goal = undefined;
    }
    if (live.energyKwh !== null && live.meteredKwh >= live.energyKwh - KW_EPSILON)
      return this.end(sessionId, "energy_delivered");
    return activeSession(this.id, live, this.now());
  }

  /**
   * Reclaim (OCPP gateway): the session may take at most `capKw` (clamped to its minimum and maximum) while
   * its vehicle draws less than it is given; null lifts the cap. The power freed goes to the others at once.
   * `pinned`: its charger takes no limits, so the session counts at that effective maximum (its minimum is
   * raised to it), refused like an admission if that does not fit; a pin may be above the session's own
   * maximum (a booking for 11 kW at a 22 kW charger that takes no limits may draw 22). `carMaxKw`: the most the vehicle itself
   * can take; below its minimum, its share is lowered to it (the rest goes to the others) while admission
   * keeps the room (PowerPool.holdBack). None is journaled: after a restart a session has its own bounds
   * again until the gateway sets them anew (a level event's new `bootId` tells it), and the room kept means
   * no one is curtailed for it.
   */
  setCap(sessionId: string, capKw: number | null, pinned = false, carMaxKw: number | null = null): Session {
    const live = this.activeOrNotFound(sessionId);
    const nowMs = this.now();
    const ownMinKw = live.unpinnedMinKw ?? live.cls.minKw;
    const minKw = carMaxKw !== null && carMaxKw < ownMinKw ? carMaxKw : ownMinKw;
    const ceilingKw = pinned && capKw !== null ? Math.max(live.maxKw, capKw) : live.maxKw;
    const effectiveMax = capKw === null ? live.maxKw : Math.min(ceilingKw, Math.max(minKw, capKw));
    const effectiveMin = pinned ? effectiveMax : minKw;
    if (effectiveMin > live.cls.minKw + (live.heldBackKw ?? 0)) {
      const others = this.pool.committedMinKw - live.cls.minKw - (live.heldBackKw ?? 0);
      // Judged without the draw holds: a hold, a charger's word, must not stop a session (a review).
      const decision = decideAdmission(this.ownSite(), others, effectiveMin);
      if (!decision.admitted) {
        throw new GridError(
          "TOO_MANY_REQUESTS",
          decision.reason,
          `${this.id}: ${sessionId} cannot be held at ${effectiveMin} kW; ${decision.headroomKw} kW left`,
        );
      }
    }
    live.capKw = effectiveMax < live.maxKw ? effectiveMax : null;
    live.unpinnedMinKw = pinned || minKw < ownMinKw ? ownMinKw : undefined;
    const heldBefore = live.heldBackKw ?? 0;
    this.pool.holdBack(live, pinned ? 0 : ownMinKw - minKw);
    const moved = effectiveMax !== live.cls.maxKw || effectiveMin !== live.cls.minKw;
    if (moved) this.moveToClass(live, effectiveMin, effectiveMax, nowMs);
    if (moved || live.heldBackKw !== heldBefore) this.reshare(nowMs);
    return activeSession(this.id, live, nowMs);
  }

  /** Moves a session to the power class of its new effective maximum, keeping the energy it has drawn. */
  protected moveToClass(live: LiveSession, minKw: number, maxKw: number, nowMs: number): void {
    const drawnKwh = live.cls.integralAt(nowMs) - live.startKwh;
    this.pool.leave(live);
    const own = live.departure ? ownClassOf(live.sessionId, () => live) : undefined;
    const cls = this.pool.classFor(minKw, maxKw, nowMs, live.cls.weight, own);
    cls.accrue(nowMs);
    live.cls = cls;
    live.startKwh = cls.integralAt(nowMs) - drawnKwh;
    if (live.energyKwh !== null && live.meteredKwh === null) {
      live.goal = { sessionId: live.sessionId, finishAtKwh: live.startKwh + live.energyKwh, done: false };
    }
    this.pool.join(live);
  }

  /**
   * A session this substation started, from memory or, once forgotten there, from the journal. With
   * `owner`, only that owner's session: another caller learns nothing, not even that it exists.
   */
  get(sessionId: string, owner?: string): Session {
    const session = this.held(sessionId) ?? this.journaled(sessionId);
    if (!session || (owner !== undefined && session.owner !== owner)) throw this.notFound(sessionId);
    return session;
  }

  /** The vehicle's active session here, if it has one. */
  activeSessionOf(vehicleId: string): Session | null {
    const sessionId = this.book.activeOf(vehicleId);
    const live = sessionId === undefined ? undefined : this.book.active.get(sessionId);
    return live ? activeSession(this.id, live, this.now()) : null;
  }

  /** The session this owner's key started here, while the key is honoured. */
  sessionOfKey(owner: string, key: string): Session | null {
    return this.book.keys.find(owner, key, this.now(), (id) => this.held(id)) ?? null;
  }

  list(status: "active" | "ended" | "all", limit: number): Session[] {
    const nowMs = this.now();
    const out: Session[] = [];
    if (status !== "ended") {
      for (const live of this.book.active.values()) {
        if (out.length >= limit) return out;
        out.push(activeSession(this.id, live, nowMs));
      }
    }
    if (status !== "active") {
      for (const done of this.book.endedSessions()) {
        if (out.length >= limit) return out;
        out.push(done);
      }
    }
    return out;
  }
}
