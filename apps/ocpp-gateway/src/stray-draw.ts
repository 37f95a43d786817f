import type { Logger } from "@evgrid/kit";
import type { Charger } from "./chargers.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { MeterReading } from "./model.ts";

/** What the check needs of the books: catch the charger and count the connector, or stop counting it. */
export interface StrayBooks {
  /** The charger draws on a connector with no transaction: caught, the connector counted at its maximum. */
  drawsWithoutTransaction(ch: Charger, connectorId: number): boolean;
  /** It reports drawing nothing there again: the connector leaves the books. */
  strayStopped(ch: Charger, connectorId: number): void;
}

/** The transaction id of a connector counted for drawing with none (never sent a limit: push-transport.ts). */
export const STRAY_TX = "";

/**
 * A charger whose meter shows it drawing on a connector with no open transaction: after it reported its own
 * stop, after its start was refused, on an idle connector. No session holds that power anywhere, and its
 * readings were dropped (a hostile-charger probe: 22 kW drawn beside a charger raised to 22 kW on a 30 kW
 * site). Judged as a transaction's power is (overdraw.ts): over `OCPP_OVERDRAW_MARGIN_KW` in every reading for
 * `OCPP_OVERDRAW_S`, two readings at least (a reading queued before a stop is not a draw after it). Then the
 * charger is caught (it takes no limits from now, recorded until an operator clears it) and the connector is
 * counted at the charge point's maximum in its site's books, so the others' limits leave room for it, until
 * it reports drawing nothing there. Energy alone (no power) is not judged here.
 */
export class StrayDraws {
  private readonly overSince = new Map<string, number>();
  private readonly counted = new Set<string>();

  constructor(
    private readonly cfg: { windowMs: number; marginKw: number },
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  read(books: StrayBooks, ch: Charger, connectorId: number, r: MeterReading, nowMs: number): void {
    const powerW = r.powerW;
    // What no connector of this charge point could draw is not believed (as for a transaction's reading).
    if (powerW === undefined || !(powerW >= 0 && powerW <= ch.cp.maxKw * 1100)) return;
    const key = `${ch.cp.chargePointId}\u0000${connectorId}`;
    if (powerW / 1000 <= this.cfg.marginKw) {
      this.overSince.delete(key);
      if (this.counted.delete(key)) books.strayStopped(ch, connectorId);
      return;
    }
    const since = this.overSince.get(key) ?? nowMs;
    this.overSince.set(key, since);
    if (since === nowMs || nowMs - since < this.cfg.windowMs || this.counted.has(key)) return;
    this.counted.add(key);
    const caught = books.drawsWithoutTransaction(ch, connectorId);
    if (!caught) return;
    this.metrics.overdraw();
    this.log.warn(
      "a charger draws with no transaction open: it takes no limits from now, counted at its maximum",
      { chargePointId: ch.cp.chargePointId, connectorId, drawKw: powerW / 1000, forMs: nowMs - since },
    );
  }

  /** A transaction opened on the connector: its own entry in the books replaces the stray one. */
  opened(chargePointId: string, connectorId: number): void {
    const key = `${chargePointId}\u0000${connectorId}`;
    this.overSince.delete(key);
    this.counted.delete(key);
  }
}
