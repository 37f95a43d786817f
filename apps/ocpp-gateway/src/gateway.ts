import type { PowerEvent } from "@evgrid/contract";
import type { Logger } from "@evgrid/kit";
import type { ReclaimSettings } from "@evgrid/policy";
import type { Tracer } from "@opentelemetry/api";
import type { RPCClient } from "ocpp-rpc";
import { Binder } from "./binder.ts";
import { Caps } from "./caps.ts";
import { ChargerTable } from "./chargers.ts";
import { Connections } from "./connections.ts";
import { ChargePointShares } from "./cp-shares.ts";
import { Ends, TURNED_AWAY } from "./ends.ts";
import { sitePusher } from "./gateway-pusher.ts";
import type { Grid } from "./grid.ts";
import { MeterReports } from "./meter-reports.ts";
import { Meters } from "./meters.ts";
import { type GatewayMetrics, writeRegistry } from "./metrics.ts";
import type { Tx, TxState } from "./model.ts";
import { claimOf, Moves } from "./moves.ts";
import { ocppAdapter } from "./ocpp/adapter.ts";
import type { OverdrawSettings } from "./overdraw.ts";
import { Power } from "./power.ts";
import type { Pusher } from "./pusher.ts";
import type { ChargePoint, Registry } from "./registry.ts";
import { Status } from "./status.ts";
import { StopOutbox } from "./stop-outbox.ts";
import { StrayDraws } from "./stray-draw.ts";
import { StrayHolds } from "./stray-holds.ts";
import { newTx, Transactions } from "./transactions.ts";

export interface GatewaySettings {
  heartbeatS: number;
  /** How often a charger is asked at boot to report its meter (s); 0: not asked (meter-reports.ts). */
  meterIntervalS: number;
  callTimeoutMs: number;
  offlineGraceMs: number;
  walkInMaxS: number;
  walkInMinKw: number;
  /** Open transactions per charge point at most. */
  maxTransactions: number;
  reclaim: ReclaimSettings;
  /** A charger that takes no limits is sent nothing for this long, doubling up to profileBackoffMaxMs. */
  profileBackoffMs: number;
  profileBackoffMaxMs: number;
  /** Slack on the energy a connector could have delivered (a meter register's resolution). */
  meterSlackWh: number;
  /** A meter silent this long counts as drawing nothing. */
  meterSilentMs: number;
  /** Draw samples kept per transaction inside the reclaim window at most (a flood of readings is thinned). */
  reclaimMaxSamples: number;
  /** A car's needs go to its substation at most once per this many ms per transaction. */
  needsMinGapMs: number;
  overdraw: Omit<OverdrawSettings, "slackWh">;
}

/**
 * The gateway, composed along the flow: OCPP adapters (ocpp/) turn each charger's messages into events for
 * the transactions, which the binder binds to grid sessions; the substations' power events go to the power
 * module, which hands each transaction's limit to the pusher; meters report energy and reclaim; ends stop
 * sessions and chargers. This class only wires them and answers the app's questions.
 */
export class Gateway {
  private readonly table: ChargerTable;
  private readonly power: Power;
  private readonly meters: Meters;
  private readonly ends: Ends;
  private readonly outbox: StopOutbox;
  private readonly binder: Binder;
  private readonly connections: Connections;
  private readonly view: Status;
  private readonly pusher: Pusher;
  private readonly caps: Caps;
  /** Each substation's run as its level events name it (bootId): a new one forgot its sessions' caps and pins. */
  private readonly boots = new Map<string, string>();

  constructor(
    private readonly registry: Registry,
    grid: Grid,
    cfg: GatewaySettings,
    metrics: GatewayMetrics,
    traces: { tracer: Tracer; tracing: boolean },
    private readonly log: Logger,
  ) {
    this.table = new ChargerTable(
      (ids) => grid.watchOnly(ids),
      (tx) => transactions.bound(tx),
    );
    const caps = new Caps(
      grid,
      log,
      (id) => this.pusher.isManaged(id),
      (tx) => void this.ends.unaffordable(tx),
      (tx) => {
        if (this.table.get(tx.chargePointId)?.link) return null;
        const w = this.pusher.heldW(tx.chargePointId, tx.connectorId);
        return w === null ? null : w / 1000;
      },
      (id) => (this.pusher.overdraws(id) ? (this.table.get(id)?.cp.maxKw ?? null) : null),
      (tx) => {
        const ch = this.table.get(tx.chargePointId);
        if (!ch) return null;
        const bound = [...ch.txs.values()].filter((t) => t.phase.state === "charging").length;
        return ch.cp.maxKw / Math.max(1, bound);
      },
    );
    this.caps = caps;
    // A charger found to take no limits while a transaction of its waits at 0 W: it cannot wait.
    const unmanagedWaiting = (tx: Tx) =>
      this.ends.turnAway(
        tx,
        tx.phase.state === "unidentified" ? TURNED_AWAY.unidentified : TURNED_AWAY.cannotWait,
      );
    const caughtBefore = (id: string) => registry.get(id)?.overdrawnAt != null;
    const pusher = sitePusher(this.table, caps, cfg, metrics, log, unmanagedWaiting, caughtBefore);
    this.pusher = pusher;
    const caught = (id: string) =>
      writeRegistry(metrics, log, "cannot record a charger caught drawing over its limit", () =>
        registry.markOverdrawn(id, Date.now()),
      );
    const strays = new StrayDraws({ ...cfg.overdraw, silentMs: cfg.meterSilentMs }, metrics, log);
    const holds = new StrayHolds(grid, log, cfg.overdraw.windowMs);
    this.power = new Power(this.table, pusher, caught, strays, holds);
    const shares = new ChargePointShares(caps, cfg.walkInMinKw);
    const meterSettings = {
      reclaim: cfg.reclaim,
      slackWh: cfg.meterSlackWh,
      silentMs: cfg.meterSilentMs,
      maxSamples: cfg.reclaimMaxSamples,
      needsMinGapMs: cfg.needsMinGapMs,
      overdraw: cfg.overdraw,
    };
    // A timed session its car's needs make energy-based ends, as every energy session at a charger does, at
    // the latest OCPP_WALKIN_MAX_S after it started.
    const bound = (tx: Tx, startedAtMs: number) => this.ends.endBy(tx, startedAtMs + cfg.walkInMaxS * 1000);
    this.meters = new Meters(
      this.table,
      grid,
      registry,
      this.power,
      caps,
      meterSettings,
      metrics,
      log,
      bound,
    );
    this.outbox = new StopOutbox(grid, registry, metrics, log);
    this.ends = new Ends(this.table, grid, registry, pusher, this.power, this.outbox, shares, metrics, log);
    this.binder = new Binder(
      this.table,
      grid,
      registry,
      this.power,
      shares,
      this.ends,
      this.outbox,
      new Moves(this.table, grid, registry, this.ends, metrics, log),
      cfg,
      log,
    );
    const transactions = new Transactions(
      this.table,
      registry,
      this.binder,
      this.power,
      this.meters,
      this.ends,
      shares,
      metrics,
      cfg,
      new MeterReports(cfg.meterIntervalS, log),
    );
    const serve = ocppAdapter({ ...traces, metrics, callTimeoutMs: cfg.callTimeoutMs });
    this.connections = new Connections(
      this.table,
      transactions,
      this.ends,
      pusher,
      caps,
      serve,
      cfg.offlineGraceMs,
      log,
    );
    this.view = new Status(this.table, pusher);
  }

  /** Transactions open when the gateway last stopped: their sessions kept power; their chargers get a grace. */
  restore(): number {
    const open = this.registry.openTransactions();
    for (const row of open) {
      const cp = this.registry.get(row.chargePointId);
      if (!cp) {
        this.registry.closeTransaction(row.chargePointId, row.transactionId, Date.now());
        continue;
      }
      const ch = this.table.ensure(cp);
      const tx = newTx(
        ch,
        row.connectorId,
        row.transactionId,
        row.vehicleId,
        row.meterStartWh,
        row.startedAt,
      );
      tx.lastReadingAtMs = Date.now(); // its meter's silence counts from now, not from before the restart
      this.table.addTx(ch, tx, false);
      // In the books at once, at its maximum (what it accepted is not known here), its charger back or not:
      // counted only once back, a new charger took 15 kW of 30 beside it drawing 22 (a probe).
      this.power.opened(tx);
      const claim = claimOf(row.claim);
      if (row.sessionId) this.binder.resume(tx, row.sessionId);
      else if (claim)
        void this.binder.goOn(tx, claim); // released there (or about to be): never looked up again
      else if (tx.vehicleId) void this.binder.bind(tx);
      this.connections.startGrace(ch);
    }
    this.table.sitesChanged();
    const stops = this.outbox.restore();
    if (stops > 0)
      this.log.warn("stops the grid had not confirmed before the restart are retried", { stops });
    return open.length;
  }

  get connectedCount(): number {
    return this.table.connectedCount;
  }

  /** A charger passed authentication: serve it. */
  connect(cp: ChargePoint, client: RPCClient): void {
    this.connections.connect(cp, client);
  }

  /** A substation's event: a new water level (every transaction there gets its share) or a session's end. */
  onPower(e: PowerEvent): void {
    if (e.type === "ended") {
      this.ends.onSessionEnded(e.sessionId);
      return;
    }
    // "" for a substation that names no run (older): its restart into one that does is a restart too.
    const before = this.boots.get(e.substationId);
    this.boots.set(e.substationId, e.bootId ?? "");
    const txs = () => [...this.table.atSubstation(e.substationId)].flatMap((ch) => [...ch.txs.values()]);
    if (before !== undefined && before !== (e.bootId ?? "")) this.caps.restarted(e.substationId, txs());
    else this.caps.levelChanged(e.substationId); // room may have come for a pin refused before
    this.power.onLevel(e.substationId, e.levelKw, e.effectiveCapacityKw, e.atMs, e.floorsKw, e.drawHolds);
  }

  /** A charge point was removed: it is disconnected and its sessions end. */
  removed(chargePointId: string): Promise<void> {
    const ch = this.table.get(chargePointId);
    // Once its transactions have ended (each remembered as it ends), whatever came of the removal.
    return this.connections.removed(chargePointId).finally(() => ch && this.power.forgetStrays(ch));
  }

  /**
   * An operator trusts a charger caught drawing more than it accepted again: the registry's mark goes, and
   * its next accepted limit makes it managed. False if it was not caught.
   */
  trustAgain(chargePointId: string): boolean {
    const marked = this.registry.clearOverdrawn(chargePointId);
    const ch = this.table.get(chargePointId);
    if (ch) this.power.forgetStrays(ch);
    return this.pusher.trustAgain(chargePointId) || marked;
  }

  status(cp: ChargePoint) {
    return this.view.of(cp);
  }

  txCounts(): Record<TxState, number> {
    return this.view.txCounts();
  }

  /** Charge points that take no limits now (counted at their maximum). */
  unmanagedCount(): number {
    return this.pusher.unmanagedCount();
  }

  get stopsPending(): number {
    return this.outbox.size;
  }

  reclaimedKw(): number {
    return this.meters.reclaimedKw();
  }

  /** Bound sessions read back from their substations: an end whose event was lost is found. */
  reconcile(): Promise<number> {
    return this.ends.reconcile();
  }

  async close(): Promise<void> {
    this.caps.close();
    this.power.close();
    this.connections.close();
    this.binder.close();
    this.pusher.close();
    this.outbox.close();
    this.meters.close();
  }
}
