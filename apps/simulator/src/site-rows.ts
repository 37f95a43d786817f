/**
 * The figures of a site's live sessions that change at every event (energy left and delivered, power now,
 * maximum now) and those every re-share reads (minimum, weight, departure, start order), one row per session
 * at its index in `site.live`, in arrays. Where each event re-shares every session of a site (the per-session
 * books: `edf`, `llf`, `evgrid-deadlines`, any rule with the taper), the event's passes (energy, the
 * re-share, the next completion) walk these arrays instead of hundreds of session objects, and 200 busy sites
 * stay in the caches that 20 did (BENCHMARKS.md, "The re-share as rows of plain numbers").
 *
 * While a session is live there, its row is what is true: its object's `leftKwh`, `allocKw`, `capKw` and its
 * vehicle's `deliveredKwh` are written back when it leaves (`Site.remove`), added to in the same order as
 * before, so every figure is the same to the bit.
 */
import type { Live } from "./site.ts";

export class SiteRows {
  minKw = new Float64Array(0);
  /** Its maximum now (after any taper). */
  capKw = new Float64Array(0);
  weight = new Float64Array(0);
  /** Energy still wanted, kWh. */
  leftKwh = new Float64Array(0);
  departMin = new Float64Array(0);
  /** Start order at the site (ties broken by it). */
  seq = new Float64Array(0);
  allocKw = new Float64Array(0);
  /** Its vehicle's energy so far, kWh. */
  deliveredKwh = new Float64Array(0);

  /** Row `i` from a session joining. */
  write(i: number, l: Live): void {
    if (i >= this.minKw.length) this.grow(Math.max(16, 2 * this.minKw.length, i + 1));
    this.minKw[i] = l.minKw;
    this.capKw[i] = l.capKw;
    this.weight[i] = l.weight;
    this.leftKwh[i] = l.leftKwh;
    this.departMin[i] = l.departMin;
    this.seq[i] = l.seq;
    this.allocKw[i] = l.allocKw;
    this.deliveredKwh[i] = l.v.deliveredKwh;
  }

  /** Row `i` back into its session, which leaves. */
  read(i: number, l: Live): void {
    l.capKw = this.capKw[i] as number;
    l.leftKwh = this.leftKwh[i] as number;
    l.allocKw = this.allocKw[i] as number;
    l.v.deliveredKwh = this.deliveredKwh[i] as number;
  }

  /** Row `from` to `to` (the last session takes the place of one that left). */
  move(from: number, to: number): void {
    for (const column of this.columns()) column[to] = column[from] as number;
  }

  private columns(): Float64Array[] {
    return [
      this.minKw,
      this.capKw,
      this.weight,
      this.leftKwh,
      this.departMin,
      this.seq,
      this.allocKw,
      this.deliveredKwh,
    ];
  }

  private grow(n: number): void {
    const wider = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.minKw = wider(this.minKw);
    this.capKw = wider(this.capKw);
    this.weight = wider(this.weight);
    this.leftKwh = wider(this.leftKwh);
    this.departMin = wider(this.departMin);
    this.seq = wider(this.seq);
    this.allocKw = wider(this.allocKw);
    this.deliveredKwh = wider(this.deliveredKwh);
  }
}
