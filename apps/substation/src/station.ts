import { randomUUID } from "node:crypto";
import {
  type DispatchRequest,
  type EndReason,
  type PowerEvent,
  reasons,
  type Session,
  type SessionNeeds,
  type SessionUpdate,
  type SubstationLoad,
} from "@evgrid/contract";
import { GridError, type Scheduler, setLongTimeout } from "@evgrid/kit";
import {
  curtailSite,
  decideAdmission,
  effectiveCapacityKw,
  KW_EPSILON,
  PRIORITY_WEIGHT,
} from "@evgrid/policy";
import { checkAdmission, closing, replayOf } from "./admission.ts";
import { CrossingTimer, departureOf, needOf, takeNeeds } from "./departures.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import { type Journal, sessionOf } from "./journal.ts";
import { type JournalHealth, JournalWrites } from "./journal-writes.ts";
import type { PowerClass } from "./power-class.ts";
import { PowerFeed } from "./power-feed.ts";
import { PowerPool } from "./power-pool.ts";
import { type Recovery, recoveryOf } from "./recovery.ts";
import { type LiveSession, SessionBook } from "./sessions.ts";
import { activeSession, endedSession } from "./wire.ts";

export type { Recovery } from "./recovery.ts";

export interface StationOptions {
  id: string;
  capacityKw: number;
  limitKw?: number | null;
  /** How many ended sessions stay in memory (oldest forgotten first; the journal keeps them longer). */
  endedRetention?: number;
  /** Wall-clock milliseconds (session times). */
  now?: () => number;
  /** Runs session ends and energy goals (tests drive it, with `now`, by hand). */
  scheduler?: Scheduler;
  /** Told of every admission, end and refusal, for metrics. */
  onStart?: (session: Session) => void;
  onEnd?: (session: Session) => void;
  onRefuse?: (reason: string) => void;
  /** Where admissions and ends are written before they are answered; none = nothing survives a restart. */
  journal?: Journal;
  /** Counts and logs failed journal writes (metrics); none: failures are only handled. */
  journalHealth?: JournalHealth;
  /** How long an idempotency key is honoured after its session started (looked up in the journal beyond memory). */
  idempotencyTtlMs?: number;
  /** How often energy drawn by active energy-based sessions is written to the journal (and failed ends retried). */
  checkpointMs?: number;
  /** The least time between two re-shares for a departures' laxity crossing (default 1 s). */
  reshareMinMs?: number;
}

/**
 * One substation's sessions, and the coordinator of its parts: the session book (sessions.ts), the power
 * pool (power-pool.ts), admission (admission.ts), the journal (journal-writes.ts), recovery (recovery.ts)
 * and the wire view (wire.ts). Every mutation runs synchronously from check to commit, so two admissions can
 * never interleave: the event loop makes the substation the atomic authority. After every change the power
 * is re-shared at once.
 */
export class Station {
  readonly id: string;
  readonly capacityKw: number;
  private limitKw: number | null;
  private readonly book: SessionBook;
  private readonly pool: PowerPool;
  private readonly now: () => number;
  private readonly scheduler: Scheduler | undefined;
  private readonly hooks: Pick<StationOptions, "onStart" | "onEnd" | "onRefuse">;
  /** Energy of sessions already ended; active ones are added when asked. */
  private endedEnergyKwh = 0;
  private version = 0;
  private closed = false;
  private draining = false;
  private readonly writes: JournalWrites | undefined;
  private checkpoints: { cancel(): void } | undefined;
  /** Who watches this station's power (the OCPP gateway, session watchers). */
  private readonly feed = new PowerFeed();
  /** Admissions waiting for their group commit, by session id. */
  private readonly uncommitted = new Map<string, Promise<void>>();
  private readonly crossings: CrossingTimer;

  constructor(opts: StationOptions) {
    this.id = opts.id;
    this.capacityKw = opts.capacityKw;
    this.limitKw = opts.limitKw ?? null;
    this.now = opts.now ?? Date.now;
    this.scheduler = opts.scheduler;
    this.hooks = { onStart: opts.onStart, onEnd: opts.onEnd, onRefuse: opts.onRefuse };
    const keys = new IdempotencyKeys(this.id, opts.idempotencyTtlMs ?? 24 * 3_600_000, opts.journal);
    this.book = new SessionBook(keys, opts.endedRetention ?? 10_000);
    this.pool = new PowerPool((cls) => this.energyDue(cls), opts.scheduler);
    this.crossings = new CrossingTimer(
      opts.reshareMinMs ?? 1000,
      () => this.reshare(this.now()),
      opts.scheduler,
    );
    if (opts.journal) {
      this.writes = new JournalWrites(opts.journal, this.id, opts.journalHealth);
      const saved = opts.journal.getSetting("limitKw");
      if (saved !== null) this.limitKw = Number(saved);
      this.draining = opts.journal.getSetting("draining") === "true";
      this.everyCheckpoint(opts.checkpointMs ?? 2000);
    }
  }

  get limit(): number | null {
    return this.limitKw;
  }

  /** Journal writes not done yet (ends, the energy checkpoint), waiting for the journal to take them. */
  get pendingJournalWrites(): number {
    return this.writes?.pending ?? 0;
  }

  private site() {
    return { capacityKw: this.capacityKw, limitKw: this.limitKw };
  }

  /** O(1): maintained sums; water-filling hands out everything up to the demand. */
  load(): SubstationLoad {
    const effectiveKw = effectiveCapacityKw(this.site());
    const { committedMinKw, demandKw } = this.pool;
    const activeSessions = this.book.active.size;
    // Minimums above the capacity only happen within an operator cut, before curtailment; float noise aside.
    const overCommitted = committedMinKw > effectiveKw + KW_EPSILON;
    const allocatedKw = Math.min(demandKw, overCommitted ? committedMinKw : effectiveKw);
    return {
      substationId: this.id,
      capacityKw: this.capacityKw,
      limitKw: this.limitKw,
      effectiveCapacityKw: effectiveKw,
      allocatedKw,
      demandKw,
      committedMinKw,
      activeSessions,
      utilization: effectiveKw > 0 ? allocatedKw / effectiveKw : activeSessions > 0 ? 1 : 0,
      headroomKw: Math.max(0, effectiveKw - committedMinKw),
      draining: this.draining,
      version: this.version,
      measuredAtMs: this.now(),
    };
  }

  /**
   * Admits a vehicle, or refuses it with a typed reason. The session takes its share of power at once (so the
   * next admission of this turn sees it), and is answered once the journal has it: if the journal's group
   * commit fails, the admission is undone and refused 503 JOURNAL_UNAVAILABLE.
   */
  async start(req: DispatchRequest): Promise<{ session: Session; load: SubstationLoad; replayed: boolean }> {
    if (this.closed) throw closing(this.id);
    // A retry of a request this substation already answered gets the same session, even if it is full now.
    const key = req.idempotencyKey ?? null;
    const earlier =
      key === null ? undefined : this.book.keys.find(req.owner, key, this.now(), (id) => this.held(id));
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
      },
      this.hooks.onRefuse,
    );
    const nowMs = this.now();
    const departure = departureOf(req, nowMs);
    const sessionId = `${this.id}.${randomUUID().replaceAll("-", "")}`;
    const durationS = "durationS" in req ? req.durationS : null;
    const energyKwh = "energyKwh" in req ? req.energyKwh : null;
    const priority = req.priority ?? "standard";
    // Capped from the start (as setCap clamps it): power above the cap goes to the others.
    const capKw = req.capKw !== undefined && req.capKw < req.maxKw ? Math.max(req.minKw, req.capKw) : null;
    const own = departure ? { id: sessionId, need: needOf(() => live) } : undefined;
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
      const committed = this.writes.started({
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
      });
      this.uncommitted.set(sessionId, committed);
      try {
        await committed;
      } catch (err) {
        this.undo(live);
        throw err;
      } finally {
        this.uncommitted.delete(sessionId);
      }
    }
    const session = activeSession(this.id, live, nowMs);
    this.hooks.onStart?.(session);
    return { session, load: this.load(), replayed: false };
  }

  /** Takes back an admission the journal could not take: as if it never happened. */
  private undo(live: LiveSession): void {
    if (this.book.active.get(live.sessionId) !== live) return; // already ended (curtailed) meanwhile
    this.book.remove(live.sessionId);
    this.book.keys.forget(live.owner, live.idempotencyKey, live.sessionId);
    live.timer?.clear();
    this.pool.leave(live);
    this.reshare(this.now());
  }

  /**
   * Ends a session now (`stopped`, or `charger_offline` when the OCPP gateway gave up on its charger). With
   * `owner`, only that owner's session: anybody else's is "not found". An ended session is answered as it is.
   */
  stop(
    sessionId: string,
    owner?: string,
    reason: "stopped" | "charger_offline" = "stopped",
  ): { session: Session; load: SubstationLoad } {
    const found = this.get(sessionId, owner);
    const session = this.book.active.has(sessionId) ? this.end(sessionId, reason) : found;
    return { session, load: this.load() };
  }

  /**
   * Reclaim (OCPP gateway): the session may take at most `capKw` (clamped to its minimum and maximum) while
   * its vehicle draws less than it is given; null lifts the cap. The power freed goes to the others at once.
   * `pinned`: its charger takes no limits, so the session counts at that effective maximum (its minimum is
   * raised to it), refused like an admission if that does not fit. Neither is journaled: after a restart a
   * session has its own bounds again until the gateway sets them anew.
   */
  setCap(sessionId: string, capKw: number | null, pinned = false): Session {
    const live = this.activeOrNotFound(sessionId);
    const nowMs = this.now();
    const minKw = live.unpinnedMinKw ?? live.cls.minKw;
    const effectiveMax = capKw === null ? live.maxKw : Math.min(live.maxKw, Math.max(minKw, capKw));
    const effectiveMin = pinned ? effectiveMax : minKw;
    if (effectiveMin > live.cls.minKw) {
      const others = this.pool.committedMinKw - live.cls.minKw;
      const decision = decideAdmission(this.site(), others, effectiveMin);
      if (!decision.admitted) {
        throw new GridError(
          "TOO_MANY_REQUESTS",
          decision.reason,
          `${this.id}: ${sessionId} cannot be held at ${effectiveMin} kW; ${decision.headroomKw} kW left`,
        );
      }
    }
    live.capKw = effectiveMax < live.maxKw ? effectiveMax : null;
    live.unpinnedMinKw = pinned ? minKw : undefined;
    if (effectiveMax !== live.cls.maxKw || effectiveMin !== live.cls.minKw) {
      this.moveToClass(live, effectiveMin, effectiveMax, nowMs);
      this.reshare(nowMs);
    }
    return activeSession(this.id, live, nowMs);
  }

  /**
   * What the car needs (OCPP gateway: NotifyEVChargingNeeds): its energy, and when it leaves. A time-based
   * session (a walk-in) becomes energy-based; the session re-shares by its need at once.
   */
  setNeeds(needs: SessionNeeds): Session {
    const live = this.activeOrNotFound(needs.sessionId);
    const nowMs = this.now();
    const enough = takeNeeds(live, needs, nowMs);
    live.timer?.clear();
    const departAtMs = live.departure?.departAtMs;
    live.timer =
      departAtMs === undefined
        ? undefined
        : setLongTimeout(() => this.end(live.sessionId, "departed"), departAtMs - nowMs, this.scheduler);
    if (enough) return this.end(live.sessionId, "energy_delivered");
    this.moveToClass(live, live.cls.minKw, live.cls.maxKw, nowMs);
    this.reshare(nowMs);
    return activeSession(this.id, live, nowMs);
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
      const cls = this.pool.classFor(rec.minKw, rec.maxKw, nowMs, PRIORITY_WEIGHT[rec.priority]);
      this.activate(
        {
          sessionId: rec.sessionId,
          vehicleId: rec.vehicleId,
          maxKw: rec.maxKw,
          capKw: null,
          meteredKwh: null,
          cls,
          startedAtMs: rec.startedAtMs,
          durationS: rec.durationS,
          energyKwh: rec.energyKwh,
          departure: null, // not journaled yet: after a restart it charges to its energy
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
   * Writes the energy drawn so far by energy-based sessions (the only ones whose end depends on it), after
   * retrying ends the journal could not take before. Never throws: a full journal is counted, not fatal.
   */
  checkpoint(): void {
    if (!this.writes || this.closed) return;
    this.writes.flush();
    const nowMs = this.now();
    const rows: { sessionId: string; deliveredKwh: number }[] = [];
    for (const live of this.book.active.values()) {
      if (live.energyKwh !== null)
        rows.push({ sessionId: live.sessionId, deliveredKwh: live.cls.integralAt(nowMs) - live.startKwh });
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

  /** Checkpoints every `intervalMs` until closed. */
  private everyCheckpoint(intervalMs: number): void {
    const run = () => {
      this.checkpoint();
      if (!this.closed) this.checkpoints = schedule(run);
    };
    const schedule = (f: () => void) =>
      this.scheduler ? this.scheduler.schedule(f, intervalMs) : unrefTimer(f, intervalMs);
    this.checkpoints = schedule(run);
  }

  /** Makes a session charge: in the book, in its power class, and set to end by its time or its energy. */
  private activate(s: Omit<LiveSession, "timer" | "goal">, nowMs: number): LiveSession {
    const live: LiveSession = { ...s, timer: undefined, goal: undefined };
    if (live.durationS !== null) {
      const endsInMs = live.startedAtMs + live.durationS * 1000 - nowMs;
      // Long timeout: a duration is bounded today (24 h), but a timer from input must never clamp to 1 ms.
      live.timer = setLongTimeout(() => this.end(live.sessionId, "time_elapsed"), endsInMs, this.scheduler);
    } else {
      live.goal = {
        sessionId: live.sessionId,
        finishAtKwh: live.startKwh + (live.energyKwh ?? 0),
        done: false,
      };
      const departAtMs = live.departure?.departAtMs;
      if (departAtMs !== undefined)
        live.timer = setLongTimeout(
          () => this.end(live.sessionId, "departed"),
          departAtMs - nowMs,
          this.scheduler,
        );
    }
    this.book.add(live);
    this.pool.join(live);
    return live;
  }

  /** Ends the newest sessions until the admitted minimums fit the capacity in force again. */
  private curtailToFit(): Session[] {
    const newestFirst = [...this.book.active.values()].reverse();
    const shed = curtailSite(
      this.site(),
      newestFirst.map((live) => live.cls.minKw),
      this.pool.committedMinKw,
    );
    const curtailed = newestFirst.slice(0, shed).map((live) => this.end(live.sessionId, "curtailed", false));
    this.reshare(this.now());
    return curtailed;
  }

  private end(sessionId: string, reason: EndReason, reshare = true): Session {
    const nowMs = this.now();
    const live = this.book.remove(sessionId);
    if (!live) throw this.notFound(sessionId);
    const session = endedSession(activeSession(this.id, live, nowMs), nowMs, reason);
    live.timer?.clear();
    this.pool.leave(live);
    this.book.rememberEnded(session);
    this.endedEnergyKwh += session.deliveredKwh;
    // Kept and retried if the journal cannot be written now. Should the process die before it can, recovery
    // ends it by its time (or resumes an energy session): never a double booking.
    this.writes?.ended({
      sessionId,
      deliveredKwh: session.deliveredKwh,
      endedAtMs: nowMs,
      endReason: reason,
    });
    if (reshare) this.reshare(nowMs);
    this.feed.ended({
      type: "ended",
      substationId: this.id,
      sessionId,
      endReason: reason,
      deliveredKwh: session.deliveredKwh,
      atMs: nowMs,
    });
    this.hooks.onEnd?.(session);
    return session;
  }

  /** Moves a session to the power class of its new effective maximum, keeping the energy it has drawn. */
  private moveToClass(live: LiveSession, minKw: number, maxKw: number, nowMs: number): void {
    const drawnKwh = live.cls.integralAt(nowMs) - live.startKwh;
    this.pool.leave(live);
    const own = live.departure ? { id: live.sessionId, need: needOf(() => live) } : undefined;
    const cls = this.pool.classFor(minKw, maxKw, nowMs, live.cls.weight, own);
    cls.accrue(nowMs);
    live.cls = cls;
    live.startKwh = cls.integralAt(nowMs) - drawnKwh;
    if (live.energyKwh !== null && live.meteredKwh === null) {
      live.goal = { sessionId: live.sessionId, finishAtKwh: live.startKwh + live.energyKwh, done: false };
    }
    this.pool.join(live);
  }

  private activeOrNotFound(sessionId: string): LiveSession {
    const live = this.book.active.get(sessionId);
    if (!live) throw this.notFound(sessionId);
    return live;
  }

  private levelEvent(): Extract<PowerEvent, { type: "level" }> {
    const floorsKw = this.pool.floors();
    return {
      type: "level",
      substationId: this.id,
      version: this.version,
      levelKw: this.pool.levelKw,
      effectiveCapacityKw: effectiveCapacityKw(this.site()),
      ...(floorsKw ? { floorsKw } : {}),
      atMs: this.now(),
    };
  }

  private reshare(nowMs: number): void {
    this.pool.reshare(nowMs, this.site());
    if (!this.closed) this.crossings.arm(this.pool.nextCrossingS);
    this.version += 1;
    this.feed.level(this.levelEvent());
  }

  private energyDue(cls: PowerClass): void {
    const nowMs = this.now();
    for (const goal of cls.takeReached(nowMs)) this.end(goal.sessionId, "energy_delivered", false);
    this.reshare(nowMs);
  }

  /** A session still in memory: active, or among the last ended ones. */
  private held(sessionId: string): Session | undefined {
    const live = this.book.active.get(sessionId);
    return live ? activeSession(this.id, live, this.now()) : this.book.endedSession(sessionId);
  }

  /** An ended session the station no longer holds, while the journal keeps it (retention). */
  private journaled(sessionId: string): Session | undefined {
    const rec = this.writes?.journal.find(sessionId);
    return rec ? sessionOf(rec, this.id) : undefined;
  }

  private notFound(sessionId: string): GridError {
    return new GridError("NOT_FOUND", reasons.SESSION_NOT_FOUND, `${this.id} has no session ${sessionId}`);
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

/** A timer that does not keep the process alive (the checkpoint is housekeeping). */
function unrefTimer(run: () => void, ms: number): { cancel(): void } {
  const timer = setTimeout(run, ms);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}
