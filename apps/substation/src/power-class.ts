import { type LongTimeout, type Scheduler, setLongTimeout, systemScheduler } from "@evgrid/kit";
import { Heap } from "heap-js";

const MS_PER_HOUR = 3_600_000;

/** An energy-based session waiting to reach its target, ordered by the class integral at which it does. */
export interface EnergyGoal {
  sessionId: string;
  /** The class's per-session energy integral at which this session has its energy. */
  finishAtKwh: number;
  /** Set when the session ends otherwise; the heap drops it lazily. */
  done: boolean;
}

/**
 * Sessions with the same (minKw, maxKw, priority weight) are one class; a session with a departure is a class
 * of its own (`own`: its id), as its need is its own.
 */
export const classKey = (minKw: number, maxKw: number, weight = 1, own?: string) =>
  `${minKw}|${maxKw}|${weight}${own === undefined ? "" : `|${own}`}`;

/** A departure session's need as of a time: energy still wanted, seconds left (packages/policy NeedDemand). */
export type NeedOf = (nowMs: number) => { energyLeftKwh: number; departInS: number };

/** What a class of one with a departure knows of its session: its need, and when its car leaves. */
export interface OwnSession {
  id: string;
  need: NeedOf;
  departAtMs: () => number | undefined;
}

/**
 * All active sessions with the same (minKw, maxKw). Water-filling gives every session of a class the same
 * power, so a class keeps one allocation and one running integral of energy per session: a session's
 * delivered energy is the integral now minus the integral when it started. Re-sharing after a change then
 * costs O(classes), not O(sessions); real sites have a handful of classes (3.7, 7.4, 11, 22 kW AC, a few DC).
 */
export class PowerClass {
  readonly key: string;
  count = 0;
  allocatedKw = 0;
  /** Its minimum as lifted by its departure's need at the last re-share (= minKw without one). */
  floorKw: number;
  /** Set for a class of one with a departure. */
  need: NeedOf | undefined;
  /**
   * Set for a class of one with a departure: when its car leaves (read each time, as a charger may move
   * it). Nothing accrues past it, however late the timer that ends the session fires.
   */
  departAtMs: (() => number | undefined) | undefined;
  /** Sum of its active sessions' starting integrals: energy drawn by all = count x integral - this. */
  startKwhSum = 0;
  private integralKwh = 0;
  private accruedToMs: number;
  private readonly goals = new Heap<EnergyGoal>((a, b) => a.finishAtKwh - b.finishAtKwh);
  private timer: LongTimeout | undefined;

  constructor(
    readonly minKw: number,
    readonly maxKw: number,
    nowMs: number,
    /** Its priority class's weight in water-filling (packages/policy/src/priority.ts). */
    readonly weight = 1,
    /** The session id of a class of one (a session with a departure). */
    readonly own?: string,
  ) {
    this.key = classKey(minKw, maxKw, weight, own);
    this.floorKw = minKw;
    this.accruedToMs = nowMs;
  }

  /** Energy one session of this class has received since the class began, as of `nowMs`. */
  integralAt(nowMs: number): number {
    let toMs = nowMs;
    // Read only once time has passed: a class is made (and read) before its session is.
    if (nowMs > this.accruedToMs && this.departAtMs) {
      const departAtMs = this.departAtMs();
      // Books closed past the departure (accruedToMs later than it) stay closed.
      if (departAtMs !== undefined) toMs = Math.min(nowMs, Math.max(departAtMs, this.accruedToMs));
    }
    return this.integralKwh + (this.allocatedKw * (toMs - this.accruedToMs)) / MS_PER_HOUR;
  }

  /** Closes the books at `nowMs` before the allocation changes. */
  accrue(nowMs: number): void {
    this.integralKwh = this.integralAt(nowMs);
    this.accruedToMs = nowMs;
  }

  addGoal(goal: EnergyGoal): void {
    this.goals.push(goal);
  }

  /** When (ms from now) the first energy-based session of the class will be done; Infinity if none. */
  msToNextGoal(nowMs: number): number {
    while (this.goals.peek()?.done) this.goals.pop();
    const next = this.goals.peek();
    if (!next) return Number.POSITIVE_INFINITY;
    if (this.allocatedKw <= 0) return Number.POSITIVE_INFINITY;
    const remainingKwh = next.finishAtKwh - this.integralAt(nowMs);
    return Math.max(0, (remainingKwh / this.allocatedKw) * MS_PER_HOUR);
  }

  /** Removes and returns the goals reached by `nowMs`. */
  takeReached(nowMs: number): EnergyGoal[] {
    const reached: EnergyGoal[] = [];
    // A microsecond of slack: timers fire on the millisecond, the integral is continuous.
    const integral = this.integralAt(nowMs) + 1e-9;
    for (let g = this.goals.peek(); g && (g.done || g.finishAtKwh <= integral); g = this.goals.peek()) {
      this.goals.pop();
      if (!g.done) reached.push(g);
    }
    return reached;
  }

  /**
   * One timer per class, for its earliest energy goal, re-armed whenever the allocation changes. A goal can
   * be weeks away (1000 kWh at 1 kW), beyond what setTimeout takes: the long timeout waits in steps.
   */
  arm(nowMs: number, onDue: () => void, scheduler: Scheduler = systemScheduler): void {
    this.disarm();
    const ms = this.msToNextGoal(nowMs);
    if (Number.isFinite(ms)) this.timer = setLongTimeout(onDue, ms, scheduler);
  }

  disarm(): void {
    this.timer?.clear();
    this.timer = undefined;
  }
}
