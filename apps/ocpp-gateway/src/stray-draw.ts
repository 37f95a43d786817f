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
 * it reports drawing nothing there, says the connector is Available, or stops the transaction its readings
 * name. Not judged: energy alone (no power); connectors it does not have; a connector whose transaction the
 * gateway ended itself while the charger was away (it may not know yet: an honest charger is not caught for
 * that), until a transaction opens there again.
 */
export class StrayDraws {
  /** Per charge point, per connector (1..its connectors): what its readings with no transaction showed. */
  private readonly chargers = new Map<string, Map<number, StrayState>>();

  constructor(
    private readonly cfg: { windowMs: number; marginKw: number },
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  read(
    books: StrayBooks,
    ch: Charger,
    connectorId: number,
    transactionId: string | undefined,
    r: MeterReading,
    nowMs: number,
  ): void {
    const powerW = r.powerW;
    // What no connector of this charge point could draw is not believed (as for a transaction's reading).
    if (powerW === undefined || !(powerW >= 0 && powerW <= ch.cp.maxKw * 1100)) return;
    if (!Number.isInteger(connectorId) || connectorId < 1 || connectorId > ch.cp.connectors) return;
    const s = this.state(ch.cp.chargePointId, connectorId);
    if (s.unjudged) return;
    if (powerW / 1000 <= this.cfg.marginKw) {
      s.overSince = undefined;
      this.uncount(books, ch, connectorId, s);
      return;
    }
    s.overSince ??= nowMs;
    if (transactionId !== undefined) s.transactionId = transactionId;
    if (s.counted || s.overSince === nowMs || nowMs - s.overSince < this.cfg.windowMs) return;
    s.counted = true;
    const caught = books.drawsWithoutTransaction(ch, connectorId);
    if (!caught) return;
    this.metrics.overdraw();
    this.log.warn(
      "a charger draws with no transaction open: it takes no limits from now, counted at its maximum",
      { chargePointId: ch.cp.chargePointId, connectorId, drawKw: powerW / 1000, forMs: nowMs - s.overSince },
    );
  }

  /** A transaction opened on the connector: its own entry in the books replaces the stray one. */
  opened(chargePointId: string, connectorId: number): void {
    this.chargers.get(chargePointId)?.delete(connectorId);
  }

  /** The gateway ended the connector's transaction itself (its charger away): not judged until the next. */
  closedByGateway(chargePointId: string, connectorId: number): void {
    this.state(chargePointId, connectorId).unjudged = true;
  }

  /** It ended a transaction the gateway no longer has: a connector whose readings named it is done. */
  transactionEnded(books: StrayBooks, ch: Charger, transactionId: string): void {
    for (const [connectorId, s] of this.chargers.get(ch.cp.chargePointId) ?? [])
      if (s.transactionId === transactionId) this.uncount(books, ch, connectorId, s);
  }

  /** It says the connector is Available: nothing draws there. */
  available(books: StrayBooks, ch: Charger, connectorId: number): void {
    const s = this.chargers.get(ch.cp.chargePointId)?.get(connectorId);
    if (s) this.uncount(books, ch, connectorId, s);
  }

  /** Removed, or trusted again by an operator: nothing kept (a draw still going on is judged afresh). */
  forget(books: StrayBooks, ch: Charger): void {
    for (const [connectorId, s] of this.chargers.get(ch.cp.chargePointId) ?? [])
      if (s.counted) books.strayStopped(ch, connectorId);
    this.chargers.delete(ch.cp.chargePointId);
  }

  private uncount(books: StrayBooks, ch: Charger, connectorId: number, s: StrayState): void {
    if (s.counted) books.strayStopped(ch, connectorId);
    this.chargers.get(ch.cp.chargePointId)?.delete(connectorId);
  }

  private state(chargePointId: string, connectorId: number): StrayState {
    let connectors = this.chargers.get(chargePointId);
    if (!connectors) {
      connectors = new Map();
      this.chargers.set(chargePointId, connectors);
    }
    let s = connectors.get(connectorId);
    if (!s) {
      s = { counted: false, unjudged: false };
      connectors.set(connectorId, s);
    }
    return s;
  }
}

interface StrayState {
  /** Since when every reading was over the margin. */
  overSince?: number | undefined;
  /** In the books at the charge point's maximum. */
  counted: boolean;
  /** The transaction its readings named (a 1.6 charger's after its own stop, or a refused start). */
  transactionId?: string;
  unjudged: boolean;
}
