import { errorDataOf } from "@evgrid/contract";
import { type Logger, MAX_TIMEOUT_MS } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import { type Charger, type ChargerTable, sessionOf } from "./chargers.ts";
import type { ChargePointShares } from "./cp-shares.ts";
import type { Grid } from "./grid.ts";
import { type GatewayMetrics, writeRegistry } from "./metrics.ts";
import type { Tx } from "./model.ts";
import type { Power } from "./power.ts";
import type { Pusher } from "./pusher.ts";
import type { QueuedStop, Registry } from "./registry.ts";
import type { StopOutbox } from "./stop-outbox.ts";

export type EndReason = "stopped" | "charger_offline";

/** Why a transaction is turned away (Ends.turnAway), as the log says it. */
export const TURNED_AWAY = {
  cannotFit: "the charge point's maximum cannot hold this transaction's minimum; stopping it",
  /** Waiting is at 0 W: a charger that takes no limits may draw its maximum, so it cannot wait. */
  cannotWait: "grid full and the charger takes no limits, so it cannot wait at 0 W; stopping it",
  /** Unidentified (2.0.1), a transaction has no session: one at a charger that takes no limits is held nowhere. */
  unidentified: "a transaction with no session yet at a charger that takes no limits; stopping it",
} as const;

/**
 * How transactions end: the charger reports the end (or stays offline past its grace) and the grid session
 * is stopped; or the grid ends the session and the charger is asked to stop. The reconcile finds ends whose
 * event was lost.
 */
export class Ends {
  constructor(
    private readonly table: ChargerTable,
    private readonly grid: Grid,
    private readonly registry: Registry,
    private readonly pusher: Pusher,
    private readonly power: Power,
    private readonly outbox: StopOutbox,
    private readonly shares: ChargePointShares,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * The charger reported the end, or it stayed offline: the session ends and power goes to the others. The
   * grid first, then the registry: a stop the grid has not confirmed is recorded with the end and retried
   * (the outbox); a registry that cannot be written (a full disk) changes nothing for the grid.
   */
  async end(ch: Charger, tx: Tx, reason: EndReason): Promise<void> {
    const sessionId = sessionOf(tx);
    this.table.removeTx(ch, tx);
    // Its retries stop; an admission on its way is settled by the binder, which owns it.
    tx.life.abort();
    this.pusher.forget(ch.cp.chargePointId, tx.connectorId);
    this.power.closed(tx);
    // Back, it may not know yet: marked before the grid's stop is awaited (a probe: a slow stop let its
    // readings of that transaction be judged as a stray draw meanwhile).
    if (reason === "charger_offline") this.power.strayClosedByGateway(tx);
    const close = (stop: QueuedStop | null) =>
      this.registry.closeTransaction(ch.cp.chargePointId, tx.transactionId, Date.now(), stop);
    // Its power goes to its charge point's other transactions only once the grid has taken it back.
    const rebalance = () => void this.shares.rebalance(ch);
    if (sessionId) {
      const stopped = this.shares.whileLeaving(ch, this.outbox.stop({ sessionId, reason }, close, rebalance));
      if (await stopped) rebalance();
    } else {
      writeRegistry(this.metrics, this.log, "could not record a transaction's end", () => close(null));
    }
    if (reason === "charger_offline") {
      this.log.warn("charger stayed offline; its session ended", {
        chargePointId: ch.cp.chargePointId,
        sessionId,
      });
    }
  }

  /** The grid ended the transaction's session (or can never admit it): the charger is asked to stop. */
  gridEnded(tx: Tx, sessionGone = true): void {
    if (tx.phase.state === "stopping") return;
    const sessionId = sessionOf(tx);
    if (sessionId) this.table.unbindSession(sessionId);
    tx.phase = { state: "stopping" };
    this.power.release(tx);
    void this.askToStop(tx);
    const ch = this.table.get(tx.chargePointId);
    // Its power goes to the charge point's others once the grid has taken it back.
    if (ch && sessionId && sessionGone) void this.shares.rebalance(ch);
  }

  /**
   * A transaction the grid cannot take as it is (`why` is logged): the charger is asked to stop it, and an
   * admission on its way is given up (one that lands anyway is released: the binder owns it).
   */
  turnAway(tx: Tx, why: string): "done" {
    this.log.warn(why, { chargePointId: tx.chargePointId, transactionId: tx.transactionId });
    this.gridEnded(tx);
    tx.life.abort();
    return "done"; // nothing more to do for it
  }

  /**
   * A session that could otherwise run forever (an energy session whose meter decides, and never advances)
   * ends at `atMs`: the grid first, then the charger is asked to stop.
   */
  endBy(tx: Tx, atMs: number): void {
    const timer = setTimeout(
      () => void this.timeUp(tx),
      Math.min(MAX_TIMEOUT_MS, Math.max(0, atMs - Date.now())),
    );
    timer.unref?.();
    tx.life.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }

  private async timeUp(tx: Tx): Promise<void> {
    if (tx.phase.state !== "charging" || !this.table.isCurrent(tx)) return;
    this.log.warn("the session reached its time bound; stopping it", {
      sessionId: tx.phase.sessionId,
      transactionId: tx.transactionId,
    });
    await this.stopFromGrid(tx);
  }

  /** Its charger takes no limits and its maximum does not fit: it stops, the grid first. */
  unaffordable(tx: Tx): Promise<void> {
    return this.stopFromGrid(tx);
  }

  /** The grid session is stopped (or queued to be), then the charger is asked to stop. */
  private async stopFromGrid(tx: Tx): Promise<void> {
    if (tx.phase.state !== "charging" || !this.table.isCurrent(tx)) return;
    const { sessionId } = tx.phase;
    const ch = this.table.get(tx.chargePointId);
    const done = await this.outbox.stop(
      { sessionId, reason: "stopped" },
      (queued) => {
        if (queued) this.registry.queueStop(queued);
      },
      // Confirmed only on a retry: its power goes to the charge point's others then.
      () => ch && void this.shares.rebalance(ch),
    );
    this.gridEnded(tx, done);
  }

  /** RemoteStop / RequestStop; an offline charger is asked again when it reconnects. */
  async askToStop(tx: Tx): Promise<void> {
    const ch = this.table.get(tx.chargePointId);
    if (!ch?.link) return;
    await ch.link.requestStop(tx.transactionId, tx.trace).catch((err) =>
      this.log.warn("charger did not accept the stop", {
        chargePointId: ch.cp.chargePointId,
        error: describeFailure(err),
      }),
    );
  }

  /** A session's end, from its substation's power events. */
  onSessionEnded(sessionId: string): void {
    const tx = this.table.txOfSession(sessionId);
    if (tx) this.gridEnded(tx);
  }

  /**
   * The safety net under the power events: every bound session is read back from its substation, and one
   * that ended there (its `ended` event lost while a link was down, say) is handled as if the event came.
   * Returns how many it found ended.
   */
  async reconcile(): Promise<number> {
    this.outbox.retryNow();
    // All asked at once: over a link, the calls of one turn travel in one frame per substation.
    const checks = [...this.table.boundSessions()].map(async ([sessionId, tx]) => {
      const site = this.grid.site(tx.substationId);
      if (!site || tx.phase.state === "stopping") return false;
      try {
        const s = await site.getSession.query({ sessionId });
        if (s.status !== "ended") return false;
      } catch (err) {
        if (errorDataOf(err)?.reason !== "SESSION_NOT_FOUND") return false; // unreachable: try next time
      }
      if (tx.life.signal.aborted || this.table.txOfSession(sessionId) !== tx) return false;
      this.log.warn("a session ended without its event reaching the gateway; stopping its charger", {
        sessionId,
      });
      this.gridEnded(tx);
      return true;
    });
    return (await Promise.all(checks)).filter(Boolean).length;
  }
}
