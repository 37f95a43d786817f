import type { Logger } from "@evgrid/kit";
import type { Charger } from "./chargers.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { MeterReading } from "./model.ts";

/** What the check needs of the books: count the connector, catch the charger, or stop counting it. */
export interface StrayBooks {
  /** The connector counts at the charge point's maximum (a draw no session holds). */
  countStray(ch: Charger, connectorId: number): void;
  /** The charger is caught: it takes no limits from now, recorded. False if it was known to already. */
  catchStray(ch: Charger): boolean;
  /** The connector leaves the books. */
  strayStopped(ch: Charger, connectorId: number): void;
  /** A reading over the margin on a connector with no transaction, counted or not (stray-holds.ts). */
  strayDrawing(ch: Charger): void;
  /** Caught before (drawing over its limits, or with no transaction): its draw is counted at once. */
  isCaught(ch: Charger): boolean;
  chargerOf(chargePointId: string): Charger | undefined;
}

/** Ended transactions remembered per charge point (its connectors, at most, end one each at a time). */
const ENDED_KEPT = 8;

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
 * name (drawing again, it is counted again at once). Not judged: energy alone (no power); connectors it does
 * not have; readings naming the transaction the gateway ended itself while the charger was away (it may not
 * know yet): counted, but an honest charger is not caught for that.
 */
export class StrayDraws {
  /** Per charge point, per connector (1..its connectors): what its readings with no transaction showed. */
  private readonly chargers = new Map<string, Map<number, StrayState>>();
  /** Per charge point, the connector each of its last ENDED_KEPT ended transactions was on, and when it ended. */
  private readonly ended = new Map<string, Map<string, { connectorId: number; atMs: number }>>();
  private silence: ReturnType<typeof setInterval> | undefined;

  constructor(
    /** silentMs: a connector with no reading this long drew nothing meanwhile (OCPP_METER_SILENT_S). */
    private readonly cfg: { windowMs: number; marginKw: number; silentMs: number },
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
    // Registered at another substation since it was counted (a charger probe: its old site held it, its new
    // one did not): it leaves the old site's books, and is counted at the new one below.
    if (s.counted && s.site !== ch.cp.substationId) this.uncount(books, ch, connectorId, s);
    // Silent longer than a meter may be (OCPP_METER_SILENT_S) since the reading before: see below.
    const afterSilence = s.lastAtMs !== undefined && nowMs - s.lastAtMs > this.cfg.silentMs;
    s.lastAtMs = nowMs;
    if (powerW / 1000 <= this.cfg.marginKw) {
      this.drawsNothing(books, ch, connectorId, s);
      return;
    }
    books.strayDrawing(ch);
    if (transactionId !== undefined) s.transactionId = transactionId;
    // The transaction the gateway ended itself while the charger was away: it may not know yet. Its draw is
    // counted (no session holds it), and the charger is not caught for it (nor is its count started).
    if (s.closedTx !== undefined && transactionId === s.closedTx) {
      this.count(books, ch, connectorId, s);
      return;
    }
    const lateReading = this.endedJustNow(ch.cp.chargePointId, connectorId, transactionId, nowMs);
    // The sample it took before its own stop starts no count either (a review: it did, and a draw hours
    // later was judged from it).
    if (lateReading && s.overSince === undefined) return;
    s.overSince ??= nowMs;
    // A charger caught before (its mark survives restarts) is counted at once: drawing again after a
    // transaction of its, or after the gateway restarted, it is not given another window (a charger probe).
    // Not for a reading naming a transaction that ended there within the window: the sample an honest
    // charger took before its own stop is not a draw after it (a review: held its maximum while quiet).
    const judged = s.overSince !== nowMs && nowMs - s.overSince >= this.cfg.windowMs;
    if (!judged && (lateReading || !books.isCaught(ch))) return;
    this.count(books, ch, connectorId, s);
    if (!judged) return;
    // Judged across a silence (two single readings hours apart): counted while it lasts, not caught, which
    // is recorded for good, and its window starts again here (a probe caught an honest charger that way; a
    // review: a charger reporting more rarely than that must still be counted).
    if (afterSilence) {
      s.overSince = nowMs;
      return;
    }
    if (s.caught) return;
    s.caught = true;
    if (!books.catchStray(ch)) return;
    this.metrics.overdraw();
    this.log.warn(
      "a charger draws with no transaction open: it takes no limits from now, counted at its maximum",
      { chargePointId: ch.cp.chargePointId, connectorId, drawKw: powerW / 1000, forMs: nowMs - s.overSince },
    );
  }

  /**
   * Drawing nothing: the one thing that starts the count again (a review: Available, or the stop of a
   * transaction it made up, did, and a charger sending them between its readings was never judged). The
   * transaction the gateway ended there stays known (a probe: a car pausing lost its exemption).
   */
  private drawsNothing(books: StrayBooks, ch: Charger, connectorId: number, s: StrayState): void {
    if (s.counted) books.strayStopped(ch, connectorId);
    this.drop(ch.cp.chargePointId, connectorId);
    if (s.closedTx !== undefined) this.state(ch.cp.chargePointId, connectorId).closedTx = s.closedTx;
  }

  /** A reading of nothing (at or under the margin). */
  isNothing(r: MeterReading): boolean {
    return r.powerW !== undefined && r.powerW / 1000 <= this.cfg.marginKw;
  }

  /** Whether `transactionId` ended on this connector within the window (its late sample may follow). */
  private endedJustNow(
    chargePointId: string,
    connectorId: number,
    transactionId: string | undefined,
    nowMs: number,
  ) {
    const ended = transactionId === undefined ? undefined : this.endedOn(chargePointId, transactionId);
    return ended?.connectorId === connectorId && nowMs - ended.atMs < this.cfg.windowMs;
  }

  /**
   * Counted connectors whose meter is silent longer than `silentMs` leave the books (silent, a meter counts
   * as drawing nothing, as a transaction's does: meters.ts), checked every half of it; a probe: a counted
   * charger gone offline was held, and its site's others lowered, for good.
   */
  watchSilence(books: StrayBooks): void {
    this.silence = setInterval(
      () => this.sweepSilent(books, Date.now()),
      Math.max(100, this.cfg.silentMs / 2),
    );
    this.silence.unref?.();
  }

  close(): void {
    clearInterval(this.silence);
  }

  private sweepSilent(books: StrayBooks, nowMs: number): void {
    for (const [chargePointId, connectors] of this.chargers) {
      for (const [connectorId, s] of connectors) {
        if (!s.counted || s.lastAtMs === undefined || nowMs - s.lastAtMs < this.cfg.silentMs) continue;
        const ch = books.chargerOf(chargePointId);
        if (ch) this.uncount(books, ch, connectorId, s);
      }
    }
  }

  /** A transaction ended on the connector: remembered (a few per charge point) for the events naming it. */
  txEnded(chargePointId: string, connectorId: number, transactionId: string): void {
    let ended = this.ended.get(chargePointId);
    if (!ended) {
      ended = new Map();
      this.ended.set(chargePointId, ended);
    }
    ended.delete(transactionId);
    ended.set(transactionId, { connectorId, atMs: Date.now() });
    for (const oldest of ended.keys()) {
      if (ended.size <= ENDED_KEPT) break;
      ended.delete(oldest);
    }
  }

  /** The connector a transaction that ended lately was on. */
  connectorOf(chargePointId: string, transactionId: string): number | undefined {
    return this.endedOn(chargePointId, transactionId)?.connectorId;
  }

  private endedOn(chargePointId: string, transactionId: string) {
    return this.ended.get(chargePointId)?.get(transactionId);
  }

  /** A transaction opened on the connector: its own entry in the books replaces the stray one. */
  opened(chargePointId: string, connectorId: number): void {
    this.drop(chargePointId, connectorId);
  }

  /** The gateway ended the connector's transaction itself (its charger away): readings naming it may follow. */
  closedByGateway(chargePointId: string, connectorId: number, transactionId: string): void {
    this.state(chargePointId, connectorId).closedTx = transactionId;
  }

  /**
   * It ended a transaction the gateway no longer has: a connector whose readings named it leaves the books
   * (an idle connector sends no reading of nothing). Its count goes on: drawing again, it is counted again.
   */
  transactionEnded(books: StrayBooks, ch: Charger, transactionId: string): void {
    for (const [connectorId, s] of this.chargers.get(ch.cp.chargePointId) ?? []) {
      // The charger ends what the gateway ended for it: its readings of that transaction were no stray draw,
      // and what follows is judged from its own start (a probe: one late reading caught an honest charger).
      if (s.closedTx === transactionId) {
        s.closedTx = undefined;
        s.overSince = undefined;
      }
      if (s.transactionId === transactionId) this.uncount(books, ch, connectorId, s);
    }
  }

  /** It says the connector is Available: it leaves the books, its count goes on (as above). */
  available(books: StrayBooks, ch: Charger, connectorId: number): void {
    const s = this.chargers.get(ch.cp.chargePointId)?.get(connectorId);
    if (s) this.uncount(books, ch, connectorId, s);
  }

  /** Removed, or trusted again by an operator: nothing kept (a draw still going on is judged afresh). */
  forget(books: StrayBooks, ch: Charger): void {
    for (const [connectorId, s] of this.chargers.get(ch.cp.chargePointId) ?? [])
      if (s.counted) books.strayStopped(ch, connectorId);
    this.chargers.delete(ch.cp.chargePointId);
    this.ended.delete(ch.cp.chargePointId);
  }

  private count(books: StrayBooks, ch: Charger, connectorId: number, s: StrayState): void {
    if (s.counted) return;
    s.counted = true;
    s.site = ch.cp.substationId;
    books.countStray(ch, connectorId);
  }

  private uncount(books: StrayBooks, ch: Charger, connectorId: number, s: StrayState): void {
    if (!s.counted) return;
    s.counted = false;
    books.strayStopped(ch, connectorId);
  }

  private drop(chargePointId: string, connectorId: number): void {
    const connectors = this.chargers.get(chargePointId);
    connectors?.delete(connectorId);
    if (connectors?.size === 0) this.chargers.delete(chargePointId);
  }

  private state(chargePointId: string, connectorId: number): StrayState {
    let connectors = this.chargers.get(chargePointId);
    if (!connectors) {
      connectors = new Map();
      this.chargers.set(chargePointId, connectors);
    }
    let s = connectors.get(connectorId);
    if (!s) {
      s = { counted: false, caught: false };
      connectors.set(connectorId, s);
    }
    return s;
  }
}

interface StrayState {
  /** Since when every reading was over the margin (only a reading of nothing starts it again). */
  overSince?: number | undefined;
  /** In the books at the charge point's maximum. */
  counted: boolean;
  /** The substation it was counted at. */
  site?: string;
  /** Its last reading with no transaction. */
  lastAtMs?: number;
  /** Its charger was caught for this connector's draw. */
  caught: boolean;
  /** The transaction its readings named (a 1.6 charger's after its own stop, or a refused start). */
  transactionId?: string;
  /** The transaction the gateway ended here itself while the charger was away (grace). */
  closedTx?: string | undefined;
}
