import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "./metrics.ts";
import type { Tx } from "./model.ts";

export interface OverdrawSettings {
  /** A draw over the connector's limit for this long (OCPP_OVERDRAW_S, ms), two readings at least... */
  windowMs: number;
  /** ...by more than this share of the limit (OCPP_OVERDRAW_MARGIN_PCT / 100)... */
  marginRatio: number;
  /** ...plus this (OCPP_OVERDRAW_MARGIN_KW): a meter's noise, a car's standby draw. */
  marginKw: number;
}

/** What the check needs of the gateway's books: what a connector counts at, and how to give up on a charger. */
export interface OverdrawBooks {
  /** What the transaction's connector is counted at in its site's sum (kW), or null if not in it. */
  heldKw(tx: Tx): number | null;
  /** Its charger takes no limits from now (counted at its maximum); false if it was known to already. */
  ignoresLimits(tx: Tx): boolean;
}

/**
 * A charger that accepts its limits and draws more (buggy, or hostile) is caught by its own meter: a draw
 * above what its connector is counted at, in every reading for `windowMs`, and its charger counts as taking
 * no limits, whatever it answers (its sessions pinned at their maximum, stopped if that does not fit). One
 * reading within the limit starts the count again, so a car ramping down after a lower limit is not caught;
 * a charger that never reports power or energy is not checked (its reclaim treats it as drawing nothing).
 */
export class Overdraws {
  /** Per transaction: since when every reading has been over its limit. */
  private readonly since = new WeakMap<Tx, number>();

  constructor(
    private readonly cfg: OverdrawSettings,
    private readonly books: OverdrawBooks,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A believed reading of the transaction's draw (kW) at `nowMs`. */
  check(tx: Tx, nowMs: number, drawKw: number): void {
    const heldKw = this.books.heldKw(tx);
    if (heldKw === null || drawKw <= heldKw * (1 + this.cfg.marginRatio) + this.cfg.marginKw) {
      this.since.delete(tx);
      return;
    }
    const since = this.since.get(tx);
    if (since === undefined) {
      this.since.set(tx, nowMs);
      return;
    }
    if (nowMs - since < this.cfg.windowMs) return;
    this.since.delete(tx);
    if (!this.books.ignoresLimits(tx)) return;
    this.metrics.overdraw();
    this.log.warn(
      "a charger draws more than its limit: it takes no limits from now, counted at its maximum",
      {
        chargePointId: tx.chargePointId,
        connectorId: tx.connectorId,
        drawKw,
        limitKw: heldKw,
        forMs: nowMs - since,
      },
    );
  }
}
