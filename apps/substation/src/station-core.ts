import {
  type EndReason,
  type PowerEvent,
  reasons,
  type Session,
  type SubstationLoad,
} from "@evgrid/contract";
import { GridError, type Scheduler, setLongTimeout } from "@evgrid/kit";
import { curtailSite, effectiveCapacityKw, KW_EPSILON } from "@evgrid/policy";
import { CrossingTimer, reasonAtDeparture } from "./departures.ts";
import { DrawHolds } from "./draw-holds.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import { type Journal, sessionOf } from "./journal.ts";
import { type CommitGrouping, type JournalHealth, JournalWrites } from "./journal-writes.ts";
import type { PowerClass } from "./power-class.ts";
import { PowerFeed } from "./power-feed.ts";
import { PowerPool } from "./power-pool.ts";
import { type LiveSession, SessionBook } from "./sessions.ts";
import { activeSession, endedSession } from "./wire.ts";

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
  /** How often energy drawn and meter readings are written to the journal (and failed ends retried). */
  checkpointMs?: number;
  /** How admissions and ends are grouped into journal commits (default: one group per event-loop turn). */
  commitGrouping?: CommitGrouping;
  /** The least time between two re-shares that only time triggers (default 1 s): CrossingTimer. */
  reshareMinMs?: number;
}

/**
 * The state of one substation and the steps every operation is made of (activate, end, move to another class,
 * re-share, curtail), each synchronous. The operations are in station-ops.ts and station.ts.
 */
export abstract class StationCore {
  readonly id: string;
  readonly capacityKw: number;
  protected limitKw: number | null;
  protected readonly book: SessionBook;
  protected readonly pool: PowerPool;
  protected readonly now: () => number;
  protected readonly scheduler: Scheduler | undefined;
  protected readonly hooks: Pick<StationOptions, "onStart" | "onEnd" | "onRefuse">;
  /** Energy of sessions already ended; active ones are added when asked. */
  protected endedEnergyKwh = 0;
  protected version = 0;
  /** This run (level events): caps and pins are not journaled, so a new one tells the gateway to set them. */
  private readonly bootId = crypto.randomUUID();
  protected closed = false;
  protected draining = false;
  protected readonly writes: JournalWrites | undefined;
  protected checkpoints: { cancel(): void } | undefined;
  /** Who watches this station's power (the OCPP gateway, session watchers). */
  protected readonly feed = new PowerFeed();
  /** Admissions waiting for their group commit, by session id. */
  protected readonly uncommitted = new Map<string, Promise<void>>();
  protected readonly crossings: CrossingTimer;
  /** Power drawn at the site that no session holds (the OCPP gateway's stray draws): off its capacity. */
  protected readonly holds = new DrawHolds();

  constructor(opts: StationOptions) {
    this.id = opts.id;
    this.capacityKw = opts.capacityKw;
    this.limitKw = opts.limitKw ?? null;
    this.now = opts.now ?? Date.now;
    this.scheduler = opts.scheduler;
    this.hooks = { onStart: opts.onStart, onEnd: opts.onEnd, onRefuse: opts.onRefuse };
    const keys = new IdempotencyKeys(this.id, opts.idempotencyTtlMs ?? 24 * 3_600_000, opts.journal, (id) =>
      this.book.ownerOf(id),
    );
    this.book = new SessionBook(this.id, keys, opts.endedRetention ?? 10_000);
    this.pool = new PowerPool((cls) => this.energyDue(cls), opts.scheduler);
    this.crossings = new CrossingTimer(
      opts.reshareMinMs ?? 1000,
      () => this.reshare(this.now()),
      opts.scheduler,
    );
    if (opts.journal) {
      this.writes = new JournalWrites(opts.journal, this.id, opts.journalHealth, opts.commitGrouping);
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

  /** The capacity and limit sessions share: with the draw holds taken off (new admissions, shares). */
  protected site() {
    return this.holds.within(this.ownSite());
  }

  /** The capacity and limit as installed and set: what curtailment and pins are judged on (holds curtail nobody). */
  protected ownSite() {
    return { capacityKw: this.capacityKw, limitKw: this.limitKw };
  }

  /** O(1): maintained sums; water-filling hands out everything up to the demand. */
  load(): SubstationLoad {
    const effectiveKw = effectiveCapacityKw(this.site());
    const { committedMinKw, demandKw } = this.pool;
    const activeSessions = this.book.active.size;
    // Minimums above the capacity: within an operator cut before curtailment, or while draws are held.
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
      heldDrawKw: this.holds.totalKw,
      draining: this.draining,
      version: this.version,
      measuredAtMs: this.now(),
    };
  }

  /** Checkpoints every `intervalMs` until closed. */
  protected everyCheckpoint(intervalMs: number): void {
    const run = () => {
      this.checkpoint();
      if (!this.closed) this.checkpoints = schedule(run);
    };
    const schedule = (f: () => void) =>
      this.scheduler ? this.scheduler.schedule(f, intervalMs) : unrefTimer(f, intervalMs);
    this.checkpoints = schedule(run);
  }

  /** Makes a session charge: in the book, in its power class, and set to end by its time or its energy. */
  protected activate(s: Omit<LiveSession, "timer" | "goal">, nowMs: number): LiveSession {
    const live: LiveSession = { ...s, timer: undefined, goal: undefined };
    if (live.durationS !== null) {
      const endsInMs = live.startedAtMs + live.durationS * 1000 - nowMs;
      // Long timeout: a duration is bounded today (24 h), but a timer from input must never clamp to 1 ms.
      live.timer = setLongTimeout(() => this.end(live.sessionId, "time_elapsed"), endsInMs, this.scheduler);
    } else {
      // A metered one (recovered) is ended by its meter (StationOps.meter), not by its allocation.
      if (live.meteredKwh === null)
        live.goal = {
          sessionId: live.sessionId,
          finishAtKwh: live.startKwh + (live.energyKwh ?? 0),
          done: false,
        };
      const departAtMs = live.departure?.departAtMs;
      if (departAtMs !== undefined)
        live.timer = setLongTimeout(
          () => this.end(live.sessionId, reasonAtDeparture(live, this.now())),
          departAtMs - nowMs,
          this.scheduler,
        );
    }
    this.book.add(live);
    this.pool.join(live);
    return live;
  }

  /** Ends the newest sessions until the admitted minimums fit the capacity in force again. */
  protected curtailToFit(): Session[] {
    const newestFirst = [...this.book.active.values()].reverse();
    const shed = curtailSite(
      this.ownSite(),
      newestFirst.map((live) => live.cls.minKw),
      this.pool.committedMinKw,
    );
    const curtailed = newestFirst.slice(0, shed).map((live) => this.end(live.sessionId, "curtailed", false));
    this.reshare(this.now());
    return curtailed;
  }

  /** `movedTo`: ended `moved`, the substation it goes on at (kept with the end, journaled). */
  protected end(sessionId: string, reason: EndReason, reshare = true, movedTo?: string): Session {
    const nowMs = this.now();
    const live = this.book.remove(sessionId);
    if (!live) throw this.notFound(sessionId);
    const session = endedSession(activeSession(this.id, live, nowMs), nowMs, reason, movedTo);
    live.timer?.clear();
    this.pool.holdBack(live, 0);
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
      movedToSubstationId: movedTo ?? null,
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

  protected activeOrNotFound(sessionId: string): LiveSession {
    const live = this.book.active.get(sessionId);
    if (!live) throw this.notFound(sessionId);
    return live;
  }

  protected levelEvent(): Extract<PowerEvent, { type: "level" }> {
    const floorsKw = this.pool.floors();
    return {
      type: "level",
      substationId: this.id,
      version: this.version,
      bootId: this.bootId,
      levelKw: this.pool.levelKw,
      effectiveCapacityKw: effectiveCapacityKw(this.site()),
      drawHolds: this.holds.record,
      ...(floorsKw ? { floorsKw } : {}),
      atMs: this.now(),
    };
  }

  protected reshare(nowMs: number): void {
    this.pool.reshare(nowMs, this.site(), this.crossings.guardS);
    if (!this.closed) this.crossings.arm(this.pool.nextCrossingS);
    this.version += 1;
    this.feed.level(this.levelEvent());
  }

  protected energyDue(cls: PowerClass): void {
    const nowMs = this.now();
    for (const goal of cls.takeReached(nowMs)) this.end(goal.sessionId, "energy_delivered", false);
    this.reshare(nowMs);
  }

  /** A session still in memory: active, or among the last ended ones. */
  protected held(sessionId: string): Session | undefined {
    const live = this.book.active.get(sessionId);
    return live ? activeSession(this.id, live, this.now()) : this.book.endedSession(sessionId);
  }

  /** An ended session the station no longer holds, while the journal keeps it (retention). */
  protected journaled(sessionId: string): Session | undefined {
    const rec = this.writes?.journal.find(sessionId);
    return rec ? sessionOf(rec, this.id) : undefined;
  }

  protected notFound(sessionId: string): GridError {
    return new GridError("NOT_FOUND", reasons.SESSION_NOT_FOUND, `${this.id} has no session ${sessionId}`);
  }

  /** Writes the energy drawn so far (station-ops.ts). */
  abstract checkpoint(): void;
}

/** A timer that does not keep the process alive (the checkpoint is housekeeping). */
function unrefTimer(run: () => void, ms: number): { cancel(): void } {
  const timer = setTimeout(run, ms);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}
