/**
 * The re-share of one site as one pass over plain numbers: each demand a row of typed arrays (minimum,
 * maximum, weight, count, energy left, seconds to departure), filled in place by the caller and kept across
 * re-shares, so a re-share allocates nothing per session. The object API (deadline.ts `liftByNeed`,
 * laxity.ts `nextStandingChangeS`, water-filling.ts `waterLevel`, site-step.ts `reshareSite`) fills a table
 * and runs this code: one model, whoever calls it. A busy site re-shares hundreds of sessions at every event
 * (a simulated day with 450 cars a site: BENCHMARKS.md), and objects built per session per event were a
 * third of that cost.
 */
import type { NeedDemand } from "./deadline.ts";
import { type GiveOrder, giveInOrder } from "./in-order.ts";
import { CROSSING_LEAD_S, GRAIN_S, outOfSlack, rankOf } from "./slack.ts";

const S_PER_HOUR = 3600;

export class NeedTable {
  /** Rows in use. */
  size = 0;
  minKw = new Float64Array(0);
  maxKw = new Float64Array(0);
  weight = new Float64Array(0);
  /** Identical sessions the row stands for. */
  count = new Float64Array(0);
  /** Energy still wanted by the departure (kWh); read only with a departure. */
  leftKwh = new Float64Array(0);
  /** Seconds until it leaves; NaN: no deadline. */
  departInS = new Float64Array(0);
  /** Out: each row's floor (its minimum, lifted by need). */
  floorsKw = new Float64Array(0);
  /** Out: each row's share (per session of a class). */
  sharesKw = new Float64Array(0);
  /** Each row's laxity (s), NaN without a deadline: filled by `laxities`. */
  laxityS = new Float64Array(0);
  private wantKw = new Float64Array(0);
  /** The need order within a standing: minus the weight, then the seconds to departure. */
  private byNeed: GiveOrder = { first: new Float64Array(0), second: this.departInS };
  /** Each standing's rows (the first few of each array: `lift` counts them). */
  private members = [new Int32Array(0), new Int32Array(0), new Int32Array(0)];
  /** A lifted row's floor: its minimum and its share of what it was given (made once, not per re-share). */
  private readonly give = (i: number, kw: number) => {
    this.floorsKw[i] = (this.minKw[i] as number) + kw / (this.count[i] as number);
  };
  /** How many rows each standing has, in `members`. */
  private readonly sizes = new Int32Array(3);

  /**
   * A table of `demands` (a demand without both `energyLeftKwh` and `departInS` has no deadline), in one
   * table kept for the object API: its rows last until the next call.
   */
  static scratchOf(demands: readonly NeedDemand[]): NeedTable {
    const table = scratch;
    table.resize(demands.length);
    for (let i = 0; i < demands.length; i++) {
      const d = demands[i] as NeedDemand;
      const left = d.energyLeftKwh;
      const depart = d.departInS;
      const deadline = left !== undefined && depart !== undefined;
      table.set(
        i,
        d.minKw,
        d.maxKw,
        d.weight ?? 1,
        d.count ?? 1,
        deadline ? left : Number.NaN,
        deadline ? depart : Number.NaN,
      );
    }
    return table;
  }

  /** Makes room for `size` rows (their values are not kept) and sets `size`. */
  resize(size: number): void {
    if (size > this.minKw.length) {
      const n = Math.max(size, 2 * this.minKw.length, 16);
      this.minKw = new Float64Array(n);
      this.maxKw = new Float64Array(n);
      this.weight = new Float64Array(n);
      this.count = new Float64Array(n);
      this.leftKwh = new Float64Array(n);
      this.departInS = new Float64Array(n);
      this.floorsKw = new Float64Array(n);
      this.sharesKw = new Float64Array(n);
      this.laxityS = new Float64Array(n);
      this.wantKw = new Float64Array(n);
      this.byNeed = { first: new Float64Array(n), second: this.departInS };
      this.members = [new Int32Array(n), new Int32Array(n), new Int32Array(n)];
    }
    this.size = size;
  }

  /** One row; `departInS` NaN (or `leftKwh` NaN) for a demand without a deadline. */
  set(
    i: number,
    minKw: number,
    maxKw: number,
    weight: number,
    count: number,
    leftKwh: number,
    departInS: number,
  ) {
    this.minKw[i] = minKw;
    this.maxKw[i] = maxKw;
    this.weight[i] = weight;
    this.count[i] = count;
    this.leftKwh[i] = leftKwh;
    this.departInS[i] = Number.isNaN(leftKwh) ? Number.NaN : departInS;
  }

  /** Each row's laxity: time left minus the time needed at its maximum (NaN without a deadline). */
  laxities(): void {
    const { size, leftKwh, departInS, maxKw, laxityS } = this;
    for (let i = 0; i < size; i++) {
      laxityS[i] =
        (departInS[i] as number) - (Math.max(0, leftKwh[i] as number) * S_PER_HOUR) / (maxKw[i] as number);
    }
  }

  /**
   * Floors by need (deadline.ts liftByNeed): every minimum, then the power above them to each deadline row
   * in need order, to its target. Returns the power left over the floors (0 or less: none). Needs `laxities`.
   */
  lift(availableKw: number, guardS: number): number {
    const { size, minKw, maxKw, count, floorsKw, departInS, leftKwh, wantKw, byNeed } = this;
    let minimumsKw = 0;
    for (let i = 0; i < size; i++) {
      floorsKw[i] = minKw[i] as number;
      minimumsKw += (count[i] as number) * Math.min(minKw[i] as number, maxKw[i] as number);
    }
    let spareKw = availableKw - minimumsKw;
    if (spareKw <= 0) return spareKw;
    // Each deadline row to its standing, with what it would take to its target (out of slack: its required
    // rate; else its maximum). In a standing: the higher priority weight, then the earliest departure.
    const { weight, laxityS, members } = this;
    const first = byNeed.first;
    const sizes = this.sizes;
    sizes.fill(0);
    for (let i = 0; i < size; i++) {
      const depart = departInS[i] as number;
      const left = leftKwh[i] as number;
      // deadline.ts `standing`: none without a deadline or with nothing left.
      if (Number.isNaN(depart) || left <= 0) continue;
      const rank = rankOf(laxityS[i] as number, guardS);
      const max = maxKw[i] as number;
      const toKw =
        rank === 0
          ? Math.min(max, depart > 0 ? (left * S_PER_HOUR) / depart : Number.POSITIVE_INFINITY)
          : max;
      wantKw[i] = (count[i] as number) * Math.max(0, toKw - (minKw[i] as number));
      first[i] = -(weight[i] as number);
      (members[rank] as Int32Array)[sizes[rank] as number] = i;
      sizes[rank] = (sizes[rank] as number) + 1;
    }
    for (let rank = 0; rank < 3; rank++) {
      const n = sizes[rank] as number;
      if (spareKw <= 0 || n === 0) continue;
      spareKw = giveInOrder(members[rank] as Int32Array, n, byNeed, wantKw, this.give, spareKw);
    }
    return spareKw;
  }

  /**
   * The water level over `floorsKw` (or the minimums), as water-filling.ts `waterLevel`: +Infinity when
   * every maximum fits, -Infinity when not even the floors do.
   */
  waterLevel(availableKw: number, useFloors: boolean): number {
    const { size, minKw, maxKw, weight, count } = this;
    const base = useFloors ? this.floorsKw : minKw;
    let sumMin = 0;
    let sumMax = 0;
    for (let i = 0; i < size; i++) {
      const n = count[i] as number;
      sumMin += n * Math.min(maxKw[i] as number, base[i] as number);
      sumMax += n * (maxKw[i] as number);
    }
    if (sumMax <= availableKw) return Number.POSITIVE_INFINITY;
    if (sumMin >= availableKw) return Number.NEGATIVE_INFINITY;
    // Breakpoints: a row rises with the level between L = floor/w and L = max/w, at slope n·w. One whose
    // floor is its maximum never rises and brings none. Even entries are floors, odd ones maxima.
    const at: number[] = [];
    const row: number[] = [];
    for (let i = 0; i < size; i++) {
      const floor = Math.min(maxKw[i] as number, base[i] as number);
      if ((count[i] as number) === 0 || floor >= (maxKw[i] as number)) continue;
      at.push(floor / (weight[i] as number), (maxKw[i] as number) / (weight[i] as number));
      row.push(i, i);
    }
    const order = Array.from(at.keys()).sort((a, b) => (at[a] as number) - (at[b] as number) || a - b);
    let fixedKw = sumMin;
    let rising = 0;
    let prevAt = 0;
    for (const e of order) {
      const eAt = at[e] as number;
      if (rising > 0 && fixedKw + rising * eAt >= availableKw)
        return Math.max(prevAt, (availableKw - fixedKw) / rising);
      const i = row[e] as number;
      const n = count[i] as number;
      const isMin = (e & 1) === 0;
      const kw = n * (isMin ? Math.min(maxKw[i] as number, base[i] as number) : (maxKw[i] as number));
      const slope = n * (weight[i] as number);
      fixedKw += isMin ? -kw : kw;
      rising += isMin ? slope : -slope;
      prevAt = eAt;
    }
    return prevAt;
  }

  /** What the rows would draw if everyone had their maximum. */
  maximaKw(): number {
    let sumKw = 0;
    for (let i = 0; i < this.size; i++) sumKw += (this.count[i] as number) * (this.maxKw[i] as number);
    return sumKw;
  }

  /** Each row's share at a level over its floor (water-filling.ts shareAtLevel; null: its maximum). */
  shareAt(levelKw: number | null): void {
    const { size, maxKw, weight, floorsKw, sharesKw } = this;
    const level = levelKw ?? Number.POSITIVE_INFINITY;
    for (let i = 0; i < size; i++) {
      sharesKw[i] = Math.min(
        maxKw[i] as number,
        Math.max(floorsKw[i] as number, (weight[i] as number) * level),
      );
    }
  }

  /** Seconds until time alone changes a row's standing at `sharesKw` (laxity.ts nextStandingChangeS). */
  nextStandingChangeS(guardS: number): number {
    const { size, maxKw, sharesKw, laxityS } = this;
    let soonestS = Number.POSITIVE_INFINITY;
    for (let i = 0; i < size; i++) {
      const laxity = laxityS[i] as number;
      if (Number.isNaN(this.departInS[i] as number) || (this.leftKwh[i] as number) <= 0 || laxity < -GRAIN_S)
        continue;
      const fallPerS = 1 - Math.min(1, (sharesKw[i] as number) / (maxKw[i] as number));
      if (fallPerS <= 0) continue;
      // Out of slack, it is unable once its laxity is a grain below 0: timed for two, so the re-share finds it.
      const toS = outOfSlack(laxity, guardS)
        ? laxity + 2 * GRAIN_S
        : laxity - Math.min(guardS, CROSSING_LEAD_S);
      soonestS = Math.min(soonestS, toS / fallPerS);
    }
    return soonestS;
  }
}

const scratch = new NeedTable();
