/**
 * One substation in the simulated day: its live sessions (an array with each session's index, so a
 * departure is O(1), not indexOf/splice), the sums admission and choice read, and its energy books.
 */
import { type CandidateView, effectiveCapacityKw, KW_EPSILON } from "@evgrid/policy";
import { type ClassBooks, KWH_EPSILON } from "./class-books.ts";
import { FULL_AT_SHARE_OF_MAX, type Taper, taperedMaxKw } from "./realism.ts";
import type { Shared } from "./sharing.ts";
import { SiteRows } from "./site-rows.ts";
import type { Vehicle } from "./vehicle.ts";

/**
 * A session charging at a site. Under per-session books its row in `site.rows` is what is true while it
 * charges: `leftKwh`, `allocKw`, `capKw` here (and its vehicle's `deliveredKwh`) are the figures it joined
 * with, written back when it leaves (`remove`).
 */
export interface Live extends Shared {
  v: Vehicle;
  /** Position in `site.live`. */
  index: number;
  /** Lazy books only: since when it has drawn `allocKw` without its energy being counted. */
  sinceMin: number;
  /** Class books only: its class, and the class integral when it joined. */
  book?: object | undefined;
  joinedAtKwh?: number;
}

export class Site {
  limitKw: number | null = null;
  readonly live: Live[] = [];
  committedMinKw = 0;
  demandKw = 0;
  drawnKw = 0;
  /** Virtual minute up to which energy is counted. */
  atMin = 0;
  /** EVSEs held (admission to departure); the limit is the scenario's `evsesPerSite`. */
  evsesHeld = 0;
  /**
   * Lazy books, for share rules under which a session's power never changes while it charges (everyone at
   * its maximum, no taper): energy is counted per session when it stops, and `drawnKw` is kept as a sum,
   * so an event costs O(1) instead of O(live sessions).
   */
  lazy = false;
  /** Energy counted by class (water-filling without taper); null: per session. */
  books: ClassBooks | null = null;
  /** Per-session books (neither lazy nor by class): the live sessions' figures, one row each (site-rows.ts). */
  readonly rows = new SiteRows();
  /** What the balancer's choice reads, kept current instead of rebuilt per call. */
  readonly view: CandidateView;
  /** When a re-share time alone triggered came last, and when the next is due (virtual minutes). */
  private timedAtMin = Number.NEGATIVE_INFINITY;
  private dueMin = Number.POSITIVE_INFINITY;
  // measures
  peakUtilization = 0;
  minutesAboveCapacity = 0;
  minutesAboveLimit = 0;
  curtailedKwh = 0;
  overCapacityKwh = 0;
  withinLimitsKwh = 0;
  readonly powerSeries: number[] = [];
  readonly limitSeries: (number | null)[] = [];

  constructor(
    readonly id: string,
    readonly index: number,
    readonly capacityKw: number,
    readonly evses: number,
  ) {
    this.view = {
      id,
      capacityKw,
      effectiveCapacityKw: capacityKw,
      committedMinKw: 0,
      demandKw: 0,
      inflightMinKw: 0,
      inflightMaxKw: 0,
    };
  }

  get effectiveKw(): number {
    return effectiveCapacityKw(this);
  }

  get freeEvse(): boolean {
    return this.evsesHeld < this.evses;
  }

  /** Minimum power a newcomer could still be promised here (admission's headroom). */
  get headroomKw(): number {
    return this.effectiveKw - this.committedMinKw;
  }

  /**
   * Minutes until time alone may re-share this site again. Such re-shares are `gapMin` apart (one at or
   * after the time due is one); one a start or an end causes neither waits for that nor holds the next
   * back, as the substation's CrossingTimer. Unlike it, the guard has no CROSSING_LEAD_S added: virtual
   * time has no late timers.
   */
  holdMin(t: number, gapMin: number): number {
    if (t >= this.dueMin) this.timedAtMin = t;
    return Math.max(0, this.timedAtMin + gapMin - t);
  }

  /** When time alone re-shares this site next (a crossing, a taper step); returned as given. */
  timedAt(dueMin: number): number {
    this.dueMin = dueMin;
    return dueMin;
  }

  setLimit(limitKw: number | null): void {
    this.limitKw = limitKw;
    this.view.effectiveCapacityKw = this.effectiveKw;
  }

  /** Whether energy is counted per session at every event, in `rows`. */
  get perSession(): boolean {
    return !this.lazy && this.books === null;
  }

  add(l: Live): void {
    l.index = this.live.length;
    this.live.push(l);
    if (this.perSession) this.rows.write(l.index, l);
    this.books?.join(l);
    this.committedMinKw += l.minKw;
    this.demandKw += l.v.a.maxKw;
    this.sync();
  }

  remove(l: Live): void {
    if (this.books) {
      const kwh = this.books.leave(l);
      l.leftKwh -= kwh;
      l.v.deliveredKwh += kwh;
    }
    if (this.perSession) this.rows.read(l.index, l);
    const last = this.live.pop() as Live;
    if (last !== l) {
      if (this.perSession) this.rows.move(last.index, l.index);
      this.live[l.index] = last;
      last.index = l.index;
    }
    this.committedMinKw -= l.minKw;
    this.demandKw -= l.v.a.maxKw;
    if (this.live.length === 0) {
      // Exact zero again: sums of floats drift.
      this.committedMinKw = 0;
      this.demandKw = 0;
    }
    this.sync();
  }

  private sync(): void {
    this.view.committedMinKw = this.committedMinKw;
    this.view.demandKw = this.demandKw;
  }

  /** Counts energy and the time above capacity or limit up to `t`. O(live). */
  advance(t: number): void {
    const dt = t - this.atMin;
    if (dt <= 0) return;
    if (this.books) this.books.advance(dt);
    else if (!this.lazy) {
      const { leftKwh, allocKw, deliveredKwh } = this.rows;
      for (let i = 0; i < this.live.length; i++) {
        const kwh = Math.min(leftKwh[i] as number, ((allocKw[i] as number) * dt) / 60);
        leftKwh[i] = (leftKwh[i] as number) - kwh;
        deliveredKwh[i] = (deliveredKwh[i] as number) + kwh;
      }
    }
    const over = this.drawnKw > this.capacityKw + KW_EPSILON;
    const overLimit = this.limitKw !== null && this.drawnKw > this.limitKw + KW_EPSILON;
    if (over) {
      this.minutesAboveCapacity += dt;
      this.overCapacityKwh += ((this.drawnKw - this.capacityKw) * dt) / 60;
    }
    if (overLimit) this.minutesAboveLimit += dt;
    if (!over && !overLimit) this.withinLimitsKwh += (this.drawnKw * dt) / 60;
    if (this.limitKw !== null) {
      // What the limit held back: the power the site would have handed out without it.
      const unlimited = Math.min(this.capacityKw, this.demandKw);
      this.curtailedKwh += (Math.max(0, unlimited - this.drawnKw) * dt) / 60;
    }
    this.atMin = t;
  }

  /** The sessions full by now (at the site's `atMin`): their energy is in, or their taper says full. */
  full(taper: Taper | undefined): Live[] {
    if (this.books) return this.books.full();
    const { leftKwh, deliveredKwh } = this.rows;
    return this.live.filter(
      (l, i) =>
        (leftKwh[i] as number) <= KWH_EPSILON ||
        (taper !== undefined &&
          taperedMaxKw(taper, l.v.a, deliveredKwh[i] as number) < FULL_AT_SHARE_OF_MAX * l.v.a.maxKw),
    );
  }

  /** With the taper: each session's maximum now, from its energy so far. */
  taperCaps(taper: Taper): void {
    const { capKw, deliveredKwh } = this.rows;
    this.live.forEach((l, i) => {
      capKw[i] = taperedMaxKw(taper, l.v.a, deliveredKwh[i] as number);
    });
  }

  /** Lazy books: a session starts at its maximum; returns when it will be full (minutes). */
  startLazy(l: Live, t: number): number {
    l.allocKw = l.capKw;
    l.sinceMin = t;
    this.drawnKw += l.allocKw;
    this.peakUtilization = Math.max(this.peakUtilization, this.drawnKw / this.capacityKw);
    return l.allocKw > 0 ? t + (l.leftKwh / l.allocKw) * 60 : Number.POSITIVE_INFINITY;
  }

  /** Lazy books: a session stops at `t` (the site advanced to `t` first); its energy is counted now. */
  stopLazy(l: Live, t: number): void {
    const kwh = Math.min(l.leftKwh, (l.allocKw * (t - l.sinceMin)) / 60);
    l.leftKwh -= kwh;
    l.v.deliveredKwh += kwh;
    this.drawnKw = this.live.length === 0 ? 0 : this.drawnKw - l.allocKw;
  }

  /**
   * After a re-share: what it draws, its peak, and the soonest a session completes (minutes). With class
   * books it is the re-share too (by class).
   */
  settleShares(t: number): number {
    if (this.books) {
      this.drawnKw = this.books.share(this);
      this.peakUtilization = Math.max(this.peakUtilization, this.drawnKw / this.capacityKw);
      return this.books.nextFullMin(t);
    }
    let drawn = 0;
    let next = Number.POSITIVE_INFINITY;
    const { leftKwh, allocKw } = this.rows;
    for (let i = 0; i < this.live.length; i++) {
      const kw = allocKw[i] as number;
      drawn += kw;
      if (kw > 0) next = Math.min(next, t + ((leftKwh[i] as number) / kw) * 60);
    }
    this.drawnKw = drawn;
    this.peakUtilization = Math.max(this.peakUtilization, drawn / this.capacityKw);
    return next;
  }
}
