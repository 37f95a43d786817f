import { randomUUID } from "node:crypto";
import {
  type DispatchRequest,
  type EndReason,
  reasons,
  type Session,
  type SubstationLoad,
} from "@evgrid/contract";
import { GridError, type LongTimeout, setLongTimeout } from "@evgrid/kit";
import { decideAdmission, effectiveCapacityKw, KW_EPSILON, waterLevel } from "@evgrid/policy";
import { IdempotencyKeys } from "./idempotency.ts";
import { type Journal, sessionOf } from "./journal.ts";
import { type JournalHealth, JournalWrites } from "./journal-writes.ts";
import { classKey, type EnergyGoal, PowerClass } from "./power-class.ts";
import { type Recovery, recoveryOf } from "./recovery.ts";

export type { Recovery } from "./recovery.ts";

export interface StationOptions {
  id: string;
  capacityKw: number;
  limitKw?: number | null;
  /** How many ended sessions stay queryable (oldest forgotten first). */
  endedRetention?: number;
  now?: () => number;
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
}

interface LiveSession {
  sessionId: string;
  vehicleId: string;
  cls: PowerClass;
  startedAtMs: number;
  durationS: number | null;
  energyKwh: number | null;
  /** The class's energy integral when this session started: delivered = integral now - this. */
  startKwh: number;
  idempotencyKey: string | null;
  owner: string;
  timer: LongTimeout | undefined;
  goal: EnergyGoal | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One substation's sessions. Every mutation runs synchronously from check to commit, so two admissions can
 * never interleave: the event loop makes the substation the atomic authority. After every change the power
 * is re-shared (water-filling) at once. Sessions with the same (minKw, maxKw) form a power class that
 * shares one allocation and one energy integral, so a change costs O(classes), whatever the session count.
 */
export class Station {
  readonly id: string;
  readonly capacityKw: number;
  private limitKw: number | null;
  private readonly classes = new Map<string, PowerClass>();
  private readonly active = new Map<string, LiveSession>();
  private readonly ended = new Map<string, Session>();
  /** Active session of each vehicle: one at a time. */
  private readonly byVehicle = new Map<string, string>();
  private readonly keys: IdempotencyKeys;
  private readonly endedRetention: number;
  private readonly now: () => number;
  private readonly hooks: Pick<StationOptions, "onStart" | "onEnd" | "onRefuse">;
  private committedMinKw = 0;
  private demandKw = 0;
  /** Energy of sessions already ended; active ones are added when asked. */
  private endedEnergyKwh = 0;
  private version = 0;
  private closed = false;
  private draining = false;
  private readonly writes: JournalWrites | undefined;
  private readonly checkpointTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: StationOptions) {
    this.id = opts.id;
    this.capacityKw = opts.capacityKw;
    this.limitKw = opts.limitKw ?? null;
    this.endedRetention = opts.endedRetention ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.hooks = { onStart: opts.onStart, onEnd: opts.onEnd, onRefuse: opts.onRefuse };
    this.keys = new IdempotencyKeys(this.id, opts.idempotencyTtlMs ?? 24 * 3_600_000, opts.journal);
    if (opts.journal) {
      this.writes = new JournalWrites(opts.journal, this.id, opts.journalHealth);
      const saved = opts.journal.getSetting("limitKw");
      if (saved !== null) this.limitKw = Number(saved);
      this.draining = opts.journal.getSetting("draining") === "true";
      this.checkpointTimer = setInterval(() => this.checkpoint(), opts.checkpointMs ?? 2000);
      this.checkpointTimer.unref();
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
    // Minimums above the capacity only happen within an operator cut, before curtailment; float noise aside.
    const overCommitted = this.committedMinKw > effectiveKw + KW_EPSILON;
    const allocatedKw = Math.min(this.demandKw, overCommitted ? this.committedMinKw : effectiveKw);
    return {
      substationId: this.id,
      capacityKw: this.capacityKw,
      limitKw: this.limitKw,
      effectiveCapacityKw: effectiveKw,
      allocatedKw,
      demandKw: this.demandKw,
      committedMinKw: this.committedMinKw,
      activeSessions: this.active.size,
      utilization: effectiveKw > 0 ? allocatedKw / effectiveKw : this.active.size > 0 ? 1 : 0,
      headroomKw: Math.max(0, effectiveKw - this.committedMinKw),
      draining: this.draining,
      version: this.version,
      measuredAtMs: this.now(),
    };
  }

  start(req: DispatchRequest): { session: Session; load: SubstationLoad; replayed: boolean } {
    if (this.closed) {
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.NO_SUBSTATION_AVAILABLE,
        `${this.id} is shutting down`,
      );
    }
    // A retry of a request this substation already answered gets the same session, even if it is full now.
    const key = req.idempotencyKey ?? null;
    const earlier =
      key === null ? undefined : this.keys.find(req.owner, key, this.now(), (id) => this.held(id));
    if (earlier !== undefined) {
      if (earlier.vehicleId !== req.vehicleId) {
        throw new GridError(
          "CONFLICT",
          reasons.INVALID_INPUT,
          `idempotencyKey ${key} belongs to another vehicle`,
          {
            field: "idempotencyKey",
          },
        );
      }
      return { session: earlier, load: this.load(), replayed: true };
    }
    if (this.draining) {
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.SUBSTATION_DRAINING,
        `${this.id} is draining: no new sessions, existing ones run to their end`,
        { substationId: this.id, load: this.load() },
      );
    }
    const current = this.byVehicle.get(req.vehicleId);
    if (current !== undefined) {
      throw new GridError(
        "CONFLICT",
        reasons.VEHICLE_ALREADY_CHARGING,
        // Nothing more: who asks may not be who charges, and a session id must not leak to a stranger.
        `vehicle ${req.vehicleId} already has an active session; a retry with the key that started it gets it back`,
      );
    }
    const decision = decideAdmission(this.site(), this.committedMinKw, req.minKw);
    if (!decision.admitted) {
      this.hooks.onRefuse?.(decision.reason);
      const load = this.load();
      const constraint =
        decision.reason === "OPERATOR_LIMIT" ? `operator limit ${this.limitKw} kW` : "capacity";
      throw new GridError(
        "TOO_MANY_REQUESTS",
        decision.reason,
        `${this.id}: ${req.minKw} kW minimum does not fit; ${decision.headroomKw.toFixed(1)} kW of ${constraint} left`,
        { substationId: this.id, requestedMinKw: req.minKw, headroomKw: decision.headroomKw, load },
      );
    }
    const nowMs = this.now();
    const sessionId = `${this.id}.${randomUUID().replaceAll("-", "")}`;
    const durationS = "durationS" in req ? req.durationS : null;
    const energyKwh = "energyKwh" in req ? req.energyKwh : null;
    // Journal first: if it cannot be written, the vehicle is refused (503 JOURNAL_UNAVAILABLE) rather than
    // admitted and forgotten at the next restart.
    this.writes?.started({
      sessionId,
      vehicleId: req.vehicleId,
      minKw: req.minKw,
      maxKw: req.maxKw,
      startedAtMs: nowMs,
      durationS,
      energyKwh,
      idempotencyKey: key,
      owner: req.owner,
    });
    const cls = this.classFor(req.minKw, req.maxKw, nowMs);
    const live: LiveSession = {
      sessionId,
      vehicleId: req.vehicleId,
      cls,
      startedAtMs: nowMs,
      durationS,
      energyKwh,
      startKwh: cls.integralAt(nowMs),
      idempotencyKey: key,
      owner: req.owner,
      timer: undefined,
      goal: undefined,
    };
    this.activate(live, nowMs);
    this.reallocate(nowMs);
    const session = this.view(live, nowMs);
    this.hooks.onStart?.(session);
    return { session, load: this.load(), replayed: false };
  }

  /** Ends a session now. With `owner`, only that owner's session: anybody else's is "not found". */
  stop(sessionId: string, owner?: string): { session: Session; load: SubstationLoad } {
    const found = this.get(sessionId, owner);
    const session = this.active.has(sessionId) ? this.end(sessionId, "stopped") : found;
    return { session, load: this.load() };
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

  /** An ended session the station no longer holds, while the journal keeps it (retention). */
  private journaled(sessionId: string): Session | undefined {
    const rec = this.writes?.journal.find(sessionId);
    return rec ? sessionOf(rec, this.id) : undefined;
  }

  /** A session still in memory: active, or among the last `endedRetention` ended. */
  private held(sessionId: string): Session | undefined {
    const live = this.active.get(sessionId);
    return live ? this.view(live, this.now()) : this.ended.get(sessionId);
  }

  list(status: "active" | "ended" | "all", limit: number): Session[] {
    const nowMs = this.now();
    const out: Session[] = [];
    if (status !== "ended") {
      for (const live of this.active.values()) {
        if (out.length >= limit) return out;
        out.push(this.view(live, nowMs));
      }
    }
    if (status !== "active") {
      for (const done of this.ended.values()) {
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

  /** Ends the newest sessions until the admitted minimums fit the capacity in force again. */
  private curtailToFit(): Session[] {
    const curtailed: Session[] = [];
    const effectiveKw = effectiveCapacityKw(this.site());
    const newestFirst = [...this.active.values()].reverse();
    let committed = this.committedMinKw;
    for (const live of newestFirst) {
      if (committed <= effectiveKw + KW_EPSILON) break;
      committed -= live.cls.minKw;
      curtailed.push(this.end(live.sessionId, "curtailed", false));
    }
    this.reallocate(this.now());
    return curtailed;
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
    for (const rec of journal.recentlyEnded(this.endedRetention)) this.rememberEnded(sessionOf(rec, this.id));
    let resumed = 0;
    let endedWhileDown = 0;
    for (const rec of journal.active()) {
      const plan = recoveryOf(rec, nowMs);
      if ("end" in plan) {
        // Kept and retried if the journal is full: a restart on a full disk must come up, not crash.
        writes.ended(plan.end);
        this.rememberEnded(sessionOf({ ...rec, ...plan.end, status: "ended" }, this.id));
        this.endedEnergyKwh += rec.deliveredKwh;
        endedWhileDown += 1;
        continue;
      }
      const cls = this.classFor(rec.minKw, rec.maxKw, nowMs);
      const live: LiveSession = {
        sessionId: rec.sessionId,
        vehicleId: rec.vehicleId,
        cls,
        startedAtMs: rec.startedAtMs,
        durationS: rec.durationS,
        energyKwh: rec.energyKwh,
        // So that energy drawn = integral now - startKwh = what was drawn before the crash.
        startKwh: cls.integralAt(nowMs) - rec.deliveredKwh,
        idempotencyKey: rec.idempotencyKey,
        owner: rec.owner,
        timer: undefined,
        goal: undefined,
      };
      this.activate(live, nowMs);
      resumed += 1;
    }
    this.reallocate(nowMs);
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
    for (const live of this.active.values()) {
      if (live.energyKwh !== null)
        rows.push({ sessionId: live.sessionId, deliveredKwh: live.cls.integralAt(nowMs) - live.startKwh });
    }
    this.writes.checkpoint(rows);
  }

  /** Makes a session charge: indexed, counted in its class, and set to end by its time or its energy. */
  private activate(live: LiveSession, nowMs: number): void {
    this.byVehicle.set(live.vehicleId, live.sessionId);
    this.keys.remember(live.owner, live.idempotencyKey, live.sessionId);
    live.cls.count += 1;
    live.cls.startKwhSum += live.startKwh;
    this.active.set(live.sessionId, live);
    if (live.durationS !== null) {
      const endsInMs = live.startedAtMs + live.durationS * 1000 - nowMs;
      // Long timeout: a duration is bounded today (24 h), but a timer from input must never clamp to 1 ms.
      live.timer = setLongTimeout(() => this.end(live.sessionId, "time_elapsed"), endsInMs);
    } else {
      live.goal = {
        sessionId: live.sessionId,
        finishAtKwh: live.startKwh + (live.energyKwh ?? 0),
        done: false,
      };
      live.cls.addGoal(live.goal);
    }
  }

  /** Keeps an ended session queryable (and its idempotency key answered), forgetting the oldest past retention. */
  private rememberEnded(session: Session): void {
    this.ended.set(session.sessionId, session);
    this.keys.remember(session.owner, session.idempotencyKey, session.sessionId);
    if (this.ended.size <= this.endedRetention) return;
    const oldest = this.ended.keys().next().value;
    if (oldest === undefined) return;
    const old = this.ended.get(oldest);
    // The key stays honoured from the journal for the rest of its time to live.
    if (old) this.keys.forget(old.owner, old.idempotencyKey, oldest);
    this.ended.delete(oldest);
  }

  /** Total energy delivered since start: ended sessions plus what active ones have drawn so far. O(classes). */
  energyDeliveredKwh(): number {
    const nowMs = this.now();
    let activeKwh = 0;
    for (const cls of this.classes.values()) {
      activeKwh += cls.count * cls.integralAt(nowMs) - cls.startKwhSum;
    }
    return this.endedEnergyKwh + activeKwh;
  }

  /** Stops all timers after a last checkpoint; active sessions stay in the journal for the next start. */
  close(): void {
    this.checkpoint();
    this.closed = true;
    clearInterval(this.checkpointTimer);
    for (const live of this.active.values()) live.timer?.clear();
    for (const cls of this.classes.values()) cls.disarm();
  }

  private classFor(minKw: number, maxKw: number, nowMs: number): PowerClass {
    let cls = this.classes.get(classKey(minKw, maxKw));
    if (!cls) {
      cls = new PowerClass(minKw, maxKw, nowMs);
      this.classes.set(cls.key, cls);
    }
    return cls;
  }

  private end(sessionId: string, reason: EndReason, reallocate = true): Session {
    const live = this.active.get(sessionId);
    if (!live) throw this.notFound(sessionId);
    const nowMs = this.now();
    const last = this.view(live, nowMs);
    live.timer?.clear();
    if (live.goal) live.goal.done = true;
    this.active.delete(sessionId);
    if (this.byVehicle.get(live.vehicleId) === sessionId) this.byVehicle.delete(live.vehicleId);
    const { cls } = live;
    cls.count -= 1;
    cls.startKwhSum -= live.startKwh;
    if (cls.count === 0) {
      cls.disarm();
      this.classes.delete(cls.key);
    }
    const session: Session = {
      ...last,
      allocatedKw: 0,
      status: "ended",
      expectedEndAt: null,
      endedAt: iso(nowMs),
      endReason: reason,
    };
    this.rememberEnded(session);
    this.endedEnergyKwh += session.deliveredKwh;
    // Kept and retried if the journal cannot be written now. Should the process die before it can, recovery
    // ends it by its time (or resumes an energy session): never a double booking.
    this.writes?.ended({
      sessionId,
      deliveredKwh: session.deliveredKwh,
      endedAtMs: nowMs,
      endReason: reason,
    });
    if (reallocate) this.reallocate(nowMs);
    this.hooks.onEnd?.(session);
    return session;
  }

  /** Re-shares the power after any change, class by class; sums are recomputed exactly from the classes. */
  private reallocate(nowMs: number): void {
    const classes = [...this.classes.values()];
    for (const cls of classes) cls.accrue(nowMs);
    const level = waterLevel(classes, effectiveCapacityKw(this.site()));
    let committed = 0;
    let demand = 0;
    for (const cls of classes) {
      cls.allocatedKw = Math.min(cls.maxKw, Math.max(cls.minKw, level));
      committed += cls.count * cls.minKw;
      demand += cls.count * cls.maxKw;
      cls.arm(nowMs, () => this.energyDue(cls));
    }
    this.committedMinKw = committed;
    this.demandKw = demand;
    this.version += 1;
  }

  private energyDue(cls: PowerClass): void {
    const nowMs = this.now();
    const reached = cls.takeReached(nowMs);
    for (const goal of reached) this.end(goal.sessionId, "energy_delivered", false);
    this.reallocate(nowMs);
  }

  private view(live: LiveSession, nowMs: number): Session {
    const { cls } = live;
    const drawnKwh = cls.integralAt(nowMs) - live.startKwh;
    const deliveredKwh = live.energyKwh !== null ? Math.min(live.energyKwh, drawnKwh) : drawnKwh;
    let expectedEndMs: number;
    if (live.durationS !== null) {
      expectedEndMs = live.startedAtMs + live.durationS * 1000;
    } else {
      const remainingKwh = Math.max(0, (live.energyKwh ?? 0) - drawnKwh);
      expectedEndMs = cls.allocatedKw > 0 ? nowMs + (remainingKwh / cls.allocatedKw) * 3_600_000 : Number.NaN;
    }
    return {
      sessionId: live.sessionId,
      substationId: this.id,
      vehicleId: live.vehicleId,
      minKw: cls.minKw,
      maxKw: cls.maxKw,
      allocatedKw: cls.allocatedKw,
      status: "active",
      startedAt: iso(live.startedAtMs),
      durationS: live.durationS,
      energyKwh: live.energyKwh,
      deliveredKwh,
      expectedEndAt: Number.isFinite(expectedEndMs) ? iso(expectedEndMs) : null,
      endedAt: null,
      endReason: null,
      idempotencyKey: live.idempotencyKey,
      owner: live.owner,
    };
  }

  private notFound(sessionId: string): GridError {
    return new GridError("NOT_FOUND", reasons.SESSION_NOT_FOUND, `${this.id} has no session ${sessionId}`);
  }
}
