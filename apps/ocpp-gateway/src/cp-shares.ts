import { type ConnectorDemand, chargePointCaps, fitsChargePoint } from "@evgrid/policy";
import type { Caps } from "./caps.ts";
import type { Charger } from "./chargers.ts";
import type { Tx } from "./model.ts";
import { Turns } from "./turns.ts";

const NEVER = new AbortController().signal;

/**
 * A charge point's maximum, split across its open transactions (packages/policy chargePointCaps) and held as
 * each session's cap at the substation, so that what one charger holds never exceeds its registration,
 * whatever connector ids it uses. Lowered caps are sent, and answered, before raised ones.
 */
export class ChargePointShares {
  /**
   * A charge point's changes of shares, one at a time: the binder holds the turn from planning an admission
   * to binding it, and a rebalance waits for it (else a raise planned earlier could land after a cut).
   */
  readonly turns = new Turns();
  /** Stops on their way to the grid, by charge point: their sessions still hold power in the books. */
  private readonly leaving = new Map<string, Set<Promise<unknown>>>();

  constructor(
    private readonly caps: Caps,
    private readonly walkInMinKw: number,
  ) {}

  /** Whether one more transaction's minimum (a walk-in's) fits beside the open ones'. */
  fitsNew(ch: Charger): boolean {
    const demands = this.demands(ch).map(([, d]) => d);
    return fitsChargePoint(ch.cp.maxKw, [...demands, this.walkIn(ch)]);
  }

  /**
   * Makes room for `tx` (counted as `demand`: its booked session; a walk-in's by default): the others'
   * caps are lowered to their new shares, answered, before it is admitted. Its share, or null if its
   * minimum does not fit.
   */
  async makeRoom(ch: Charger, tx: Tx, demand?: ConnectorDemand): Promise<number | null> {
    await this.left(ch);
    const plan = this.plan(ch, tx, demand);
    if (!plan) return null;
    await this.apply(plan, true);
    return plan.get(tx) ?? null;
  }

  /** A transaction's stop on its way to the grid: admissions at its charge point wait for it. */
  whileLeaving<T>(ch: Charger, stop: Promise<T>): Promise<T> {
    const id = ch.cp.chargePointId;
    const set = this.leaving.get(id) ?? new Set();
    this.leaving.set(id, set);
    const settled = stop.then(
      () => {},
      () => {},
    );
    set.add(settled);
    void settled.then(() => {
      set.delete(settled);
      if (set.size === 0 && this.leaving.get(id) === set) this.leaving.delete(id);
    });
    return stop;
  }

  /** A transaction just ended still holds its share until the grid has taken it back (one attempt). */
  private async left(ch: Charger): Promise<void> {
    await Promise.all(this.leaving.get(ch.cp.chargePointId) ?? []);
  }

  /** A transaction bound or gone: every cap follows its share, decreases first. */
  async rebalance(ch: Charger): Promise<void> {
    const release = await this.turns.take(ch.cp.chargePointId, NEVER);
    try {
      await this.left(ch);
      const plan = this.plan(ch);
      if (!plan) return;
      await this.apply(plan, true);
      await this.apply(plan, false);
    } finally {
      release?.();
    }
  }

  private plan(ch: Charger, tx?: Tx, demand?: ConnectorDemand): Map<Tx, number> | null {
    const entries = this.demands(ch).map(([t, d]): [Tx, ConnectorDemand] => [
      t,
      t === tx && demand ? demand : d,
    ]);
    if (tx && !entries.some(([t]) => t === tx)) entries.push([tx, demand ?? this.walkIn(ch)]);
    const caps = chargePointCaps(
      ch.cp.maxKw,
      entries.map(([, d]) => d),
    );
    return caps && new Map(entries.map(([t], i) => [t, caps[i] ?? 0]));
  }

  /** Sets each bound transaction's share; sends the decreases (`lowering`) or the rest, and awaits them. */
  private async apply(plan: Map<Tx, number>, lowering: boolean): Promise<void> {
    const calls: Promise<void>[] = [];
    for (const [tx, shareKw] of plan) {
      if (tx.phase.state !== "charging") continue;
      const before = tx.phase.chargePointKw;
      tx.phase.chargePointKw = shareKw < tx.phase.limits.maxKw ? shareKw : null;
      // A raise waits for the second pass (it could use power a decrease has not freed yet).
      if (lowering && !this.caps.lowers(tx)) tx.phase.chargePointKw = before;
      else calls.push(this.caps.sync(tx));
    }
    await Promise.all(calls);
  }

  /** What each open transaction needs: its session's bounds once bound, a walk-in's until then. */
  private demands(ch: Charger): [Tx, ConnectorDemand][] {
    const out: [Tx, ConnectorDemand][] = [];
    for (const tx of ch.txs.values()) {
      if (tx.phase.state === "stopping") continue; // its session has ended
      const { limits } = tx.phase.state === "charging" ? tx.phase : { limits: null };
      out.push([tx, limits ? { minKw: limits.minKw, maxKw: limits.maxKw } : this.walkIn(ch)]);
    }
    return out;
  }

  private walkIn(ch: Charger): ConnectorDemand {
    return { minKw: Math.min(ch.cp.maxKw, this.walkInMinKw), maxKw: ch.cp.maxKw };
  }
}
