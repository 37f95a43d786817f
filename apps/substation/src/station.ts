import { randomBytes } from "node:crypto";
import {
  type ChargeRequest,
  type EndReason,
  reasons,
  type Session,
  type SubstationLoad,
} from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { decideAdmission, effectiveCapacityKw, KW_EPSILON, shareFairly } from "@evgrid/policy";

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
}

interface LiveSession {
  sessionId: string;
  vehicleId: string;
  minKw: number;
  maxKw: number;
  startedAtMs: number;
  durationS: number | null;
  energyKwh: number | null;
  deliveredKwh: number;
  allocatedKw: number;
  /** Energy is integrated up to this instant at `allocatedKw`. */
  accruedToMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const MS_PER_HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One substation's sessions. Every mutation runs synchronously from check to commit, so two admissions can
 * never interleave: the event loop makes the substation the atomic authority. After every change the power
 * is re-shared (water-filling) and energy-based sessions get a new end time.
 */
export class Station {
  readonly id: string;
  readonly capacityKw: number;
  private limitKw: number | null;
  private readonly active = new Map<string, LiveSession>();
  private readonly ended = new Map<string, Session>();
  private readonly endedRetention: number;
  private readonly now: () => number;
  private readonly hooks: Pick<StationOptions, "onStart" | "onEnd" | "onRefuse">;
  /** Energy of sessions already ended; active ones are added when asked. */
  private endedEnergyKwh = 0;
  private committedMinKw = 0;
  private demandKw = 0;
  private version = 0;
  private closed = false;

  constructor(opts: StationOptions) {
    this.id = opts.id;
    this.capacityKw = opts.capacityKw;
    this.limitKw = opts.limitKw ?? null;
    this.endedRetention = opts.endedRetention ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.hooks = { onStart: opts.onStart, onEnd: opts.onEnd, onRefuse: opts.onRefuse };
  }

  load(): SubstationLoad {
    const effectiveKw = effectiveCapacityKw(this.site());
    // Water-filling hands out everything up to the demand, so the total needs no per-session walk.
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
      version: this.version,
      measuredAtMs: this.now(),
    };
  }

  get limit(): number | null {
    return this.limitKw;
  }

  private site() {
    return { capacityKw: this.capacityKw, limitKw: this.limitKw };
  }

  start(req: ChargeRequest): { session: Session; load: SubstationLoad } {
    if (this.closed) {
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.NO_SUBSTATION_AVAILABLE,
        `${this.id} is shutting down`,
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
    const live: LiveSession = {
      sessionId: `${this.id}.${randomBytes(16).toString("hex")}`,
      vehicleId: req.vehicleId,
      minKw: req.minKw,
      maxKw: req.maxKw,
      startedAtMs: nowMs,
      durationS: "durationS" in req ? req.durationS : null,
      energyKwh: "energyKwh" in req ? req.energyKwh : null,
      deliveredKwh: 0,
      allocatedKw: 0,
      accruedToMs: nowMs,
      timer: undefined,
    };
    this.active.set(live.sessionId, live);
    if (live.durationS !== null) {
      live.timer = setTimeout(() => this.end(live.sessionId, "time_elapsed"), live.durationS * 1000);
    }
    this.reallocate();
    const session = this.view(live);
    this.hooks.onStart?.(session);
    return { session, load: this.load() };
  }

  stop(sessionId: string): { session: Session; load: SubstationLoad } {
    const session = this.active.has(sessionId) ? this.end(sessionId, "stopped") : this.ended.get(sessionId);
    if (!session) throw this.notFound(sessionId);
    return { session, load: this.load() };
  }

  get(sessionId: string): Session {
    const live = this.active.get(sessionId);
    if (live) return this.view(live);
    const done = this.ended.get(sessionId);
    if (done) return done;
    throw this.notFound(sessionId);
  }

  list(status: "active" | "ended" | "all", limit: number): Session[] {
    const out: Session[] = [];
    if (status !== "ended") {
      for (const live of this.active.values()) {
        if (out.length >= limit) return out;
        out.push(this.view(live));
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
    this.limitKw = limitKw;
    const curtailed: Session[] = [];
    const effectiveKw = effectiveCapacityKw(this.site());
    const newestFirst = [...this.active.values()].reverse();
    let committed = this.committedMinKw;
    for (const live of newestFirst) {
      if (committed <= effectiveKw + 1e-9) break;
      committed -= live.minKw;
      curtailed.push(this.end(live.sessionId, "curtailed", false));
    }
    this.reallocate();
    return { load: this.load(), curtailed };
  }

  /** Total energy delivered since start: ended sessions plus what active ones have drawn so far. O(active). */
  energyDeliveredKwh(): number {
    const nowMs = this.now();
    let activeKwh = 0;
    for (const live of this.active.values()) {
      activeKwh += live.deliveredKwh + (live.allocatedKw * (nowMs - live.accruedToMs)) / MS_PER_HOUR;
    }
    return this.endedEnergyKwh + activeKwh;
  }

  /** Stops all timers; sessions stay as they are (a later issue makes them durable). */
  close(): void {
    this.closed = true;
    for (const live of this.active.values()) clearTimeout(live.timer);
  }

  private end(sessionId: string, reason: EndReason, reallocate = true): Session {
    const live = this.active.get(sessionId);
    if (!live) throw this.notFound(sessionId);
    const nowMs = this.now();
    this.accrue(live, nowMs);
    clearTimeout(live.timer);
    this.active.delete(sessionId);
    const session: Session = {
      ...this.view(live),
      allocatedKw: 0,
      status: "ended",
      expectedEndAt: null,
      endedAt: iso(nowMs),
      endReason: reason,
    };
    this.ended.set(sessionId, session);
    if (this.ended.size > this.endedRetention) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
    this.endedEnergyKwh += session.deliveredKwh;
    if (reallocate) this.reallocate();
    this.hooks.onEnd?.(session);
    return session;
  }

  /** Re-shares the power after any change; sums are recomputed exactly so float drift never accumulates. */
  private reallocate(): void {
    const nowMs = this.now();
    const sessions = [...this.active.values()];
    const shares = shareFairly(sessions, effectiveCapacityKw(this.site()));
    let committed = 0;
    let demand = 0;
    sessions.forEach((live, i) => {
      this.accrue(live, nowMs);
      live.allocatedKw = shares[i] ?? live.minKw;
      committed += live.minKw;
      demand += live.maxKw;
      if (live.energyKwh !== null) this.scheduleEnergyEnd(live);
    });
    this.committedMinKw = committed;
    this.demandKw = demand;
    this.version += 1;
  }

  private accrue(live: LiveSession, nowMs: number): void {
    live.deliveredKwh += (live.allocatedKw * (nowMs - live.accruedToMs)) / MS_PER_HOUR;
    live.accruedToMs = nowMs;
  }

  private scheduleEnergyEnd(live: LiveSession): void {
    clearTimeout(live.timer);
    const remainingMs = this.energyRemainingMs(live);
    live.timer = setTimeout(() => this.end(live.sessionId, "energy_delivered"), Math.max(0, remainingMs));
  }

  private energyRemainingMs(live: LiveSession): number {
    const remainingKwh = Math.max(0, (live.energyKwh ?? 0) - live.deliveredKwh);
    return live.allocatedKw > 0 ? (remainingKwh / live.allocatedKw) * MS_PER_HOUR : Number.POSITIVE_INFINITY;
  }

  private view(live: LiveSession): Session {
    const nowMs = this.now();
    const deliveredKwh = live.deliveredKwh + (live.allocatedKw * (nowMs - live.accruedToMs)) / MS_PER_HOUR;
    const expectedEndMs =
      live.durationS !== null
        ? live.startedAtMs + live.durationS * 1000
        : live.accruedToMs + this.energyRemainingMs(live);
    return {
      sessionId: live.sessionId,
      substationId: this.id,
      vehicleId: live.vehicleId,
      minKw: live.minKw,
      maxKw: live.maxKw,
      allocatedKw: live.allocatedKw,
      status: "active",
      startedAt: iso(live.startedAtMs),
      durationS: live.durationS,
      energyKwh: live.energyKwh,
      deliveredKwh: live.energyKwh !== null ? Math.min(live.energyKwh, deliveredKwh) : deliveredKwh,
      expectedEndAt: Number.isFinite(expectedEndMs) ? iso(expectedEndMs) : null,
      endedAt: null,
      endReason: null,
    };
  }

  private notFound(sessionId: string): GridError {
    return new GridError("NOT_FOUND", reasons.SESSION_NOT_FOUND, `${this.id} has no session ${sessionId}`);
  }
}
