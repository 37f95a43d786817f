import { vehicleIdSchema } from "@evgrid/contract";
import { plausibleRegister } from "@evgrid/policy";
import { context, trace } from "@opentelemetry/api";
import type { Binder } from "./binder.ts";
import type { Charger, ChargerTable } from "./chargers.ts";
import type { ChargePointShares } from "./cp-shares.ts";
import { type Ends, TURNED_AWAY } from "./ends.ts";
import type { MeterReports } from "./meter-reports.ts";
import type { Meters } from "./meters.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type {
  Answered,
  ChargerEvents,
  EvNeeds,
  StartOutcome,
  TokenStatus,
  Tx,
  TxStarted,
  TxUpdated,
} from "./model.ts";
import type { Power } from "./power.ts";
import type { Registry } from "./registry.ts";

export interface TransactionSettings {
  heartbeatS: number;
  callTimeoutMs: number;
  /** Open transactions per charge point at most. */
  maxTransactions: number;
}

/** How long a boot answer waits for the charger to take its default profile. */
const BOOT_DEFAULT_WAIT_MS = 2000;

/** A new transaction, not yet bound. */
export function newTx(
  ch: Charger,
  connectorId: number,
  transactionId: string,
  vehicleId: string | null,
  meterStartWh: number | null,
  startedAtMs = Date.now(),
) {
  const tx: Tx = {
    chargePointId: ch.cp.chargePointId,
    connectorId,
    transactionId,
    substationId: ch.cp.substationId,
    vehicleId,
    phase: vehicleId ? { state: "binding" } : { state: "unidentified" },
    life: new AbortController(),
    startedAtMs,
    meterStartWh,
    lastEnergy: null,
    previousEnergy: null,
    lastReadingAtMs: startedAtMs,
    samples: [],
    trace: null,
  };
  return tx;
}

/**
 * What a charger's messages mean, written once for both OCPP versions: the adapters hand in version-free
 * events; transactions are opened here and handed to the binder, meters and ends.
 */
export class Transactions {
  /** Needs a car sent before its transaction was bound, until it is. */
  private readonly early = new WeakMap<Tx, EvNeeds>();

  constructor(
    private readonly table: ChargerTable,
    private readonly registry: Registry,
    private readonly binder: Binder,
    private readonly power: Power,
    private readonly meters: Meters,
    private readonly ends: Ends,
    private readonly shares: ChargePointShares,
    private readonly metrics: GatewayMetrics,
    private readonly cfg: TransactionSettings,
    private readonly meterReports: MeterReports,
  ) {}

  /** The events of one charger's connection. */
  eventsOf(ch: Charger): ChargerEvents {
    return {
      get booted() {
        return ch.cp.bootedAt !== null;
      },
      boot: () => this.boot(ch),
      status: (connectorId, status) => {
        if (ch.connectors.size < 64 || ch.connectors.has(connectorId)) ch.connectors.set(connectorId, status);
        if (status === "Available") this.power.strayAvailable(ch, connectorId);
      },
      authorize: (token) => (vehicleIdSchema.safeParse(token).success ? "Accepted" : "Invalid"),
      start: (e) => this.start(ch, e),
      update: (e) => this.update(ch, e),
      meter: (e) => {
        const tx =
          e.transactionId !== undefined
            ? ch.txs.get(e.transactionId)
            : this.table.txOnConnector(ch, e.connectorId);
        if (tx) {
          this.meters.read(tx, e.reading);
          this.power.stoppingReading(tx, e.reading);
        }
        // None open there (one naming an old transaction on a connector with a new one is not judged; nor
        // connector 0, the whole charge point's meter).
        else if (e.connectorId > 0 && !this.table.txOnConnector(ch, e.connectorId))
          this.power.strayReading(ch, e.connectorId, e.transactionId, e.reading);
      },
      needs: (e) => {
        const tx = this.table.txOnConnector(ch, e.connectorId);
        if (tx === undefined || tx.phase.state === "stopping") return "Rejected";
        if (tx.phase.state !== "charging") {
          // Not bound yet (being admitted, waiting for power, read back): kept, the newest of each, until it
          // is. A car says its needs once per negotiation: refused now, they would be lost.
          this.early.set(tx, { ...this.early.get(tx), ...e });
          return "Processing";
        }
        return this.meters.needs(tx, e) ? "Accepted" : "Rejected";
      },
    };
  }

  /** A transaction is bound to its session: the needs its car sent before go on (a departure still ahead). */
  bound(tx: Tx): void {
    const e = this.early.get(tx);
    if (!e) return;
    this.early.delete(tx);
    const { departAtMs, ...rest } = e;
    this.meters.needs(tx, departAtMs !== undefined && departAtMs > Date.now() ? e : rest);
  }

  /** Back (a reconnect, a boot): each transaction's power is sent again, or its stop asked again. */
  resend(ch: Charger): void {
    for (const tx of ch.txs.values()) {
      if (tx.phase.state === "stopping") {
        this.power.release(tx); // its 0 W first, then the stop again
        void this.ends.askToStop(tx);
      } else this.power.push(tx, Date.now());
    }
  }

  private async boot(ch: Charger): Promise<Answered<{ atMs: number; heartbeatS: number }>> {
    const atMs = Date.now();
    this.registry.markBooted(ch.cp.chargePointId, atMs);
    ch.cp = { ...ch.cp, bootedAt: atMs };
    // Answered once its default (0 W) is in place, so no transaction can start unlimited; waited for a
    // bounded time, since the charger's own boot call has a timeout too.
    await this.power.online(ch, Math.min(this.cfg.callTimeoutMs, BOOT_DEFAULT_WAIT_MS));
    const afterAnswer = () => {
      this.resend(ch);
      void this.meterReports.ask(ch);
    };
    return { answer: { atMs, heartbeatS: this.cfg.heartbeatS }, afterAnswer };
  }

  private tokenStatus(token: string | undefined, exceptTransactionId?: string): TokenStatus | undefined {
    if (token === undefined) return undefined;
    if (!vehicleIdSchema.safeParse(token).success) return "Invalid";
    // One vehicle, one transaction: plugged in elsewhere already, this one is refused (the charger stops it).
    return this.table.chargingVehicle(token, exceptTransactionId) ? "ConcurrentTx" : "Accepted";
  }

  // biome-ignore lint/complexity/noExcessiveCognitiveComplexity: StartTransaction (gateway split issue)
  private start(ch: Charger, e: TxStarted): Answered<StartOutcome> {
    const refuse = (reason: Extract<StartOutcome, { kind: "refused" }>["reason"], message: string) => ({
      answer: { kind: "refused" as const, reason, message },
    });
    const named = e.transactionId === null ? undefined : ch.txs.get(e.transactionId);
    const status = e.openUnidentified ? this.tokenStatus(e.token, e.transactionId ?? undefined) : undefined;
    if (named) {
      if (e.connectorId !== undefined && e.connectorId !== named.connectorId) {
        return refuse("transaction-id-on-other-connector", "transactionId is already in use on another EVSE");
      }
      return { answer: { kind: "repeated", transactionId: named.transactionId, token: status } };
    }
    if (e.transactionId !== null && this.registry.findTransaction(ch.cp.chargePointId, e.transactionId)) {
      return refuse("transaction-id-reused", "transactionId was already used");
    }
    if (e.connectorId === undefined)
      return refuse("connector-missing", "evse is required when a transaction starts");
    if (!Number.isInteger(e.connectorId) || e.connectorId < 1 || e.connectorId > ch.cp.connectors) {
      this.metrics.connectorRefused();
      const transactionId = e.transactionId ?? String(this.registry.nextTransactionId());
      const message = `connector ${e.connectorId} is not one of this charge point's 1..${ch.cp.connectors}`;
      return { answer: { kind: "bad-connector", transactionId, message } };
    }
    const busy = this.table.txOnConnector(ch, e.connectorId);
    if (busy) {
      // The same vehicle again, and the charger did not name it (a retry after a lost answer): the same one.
      if (e.transactionId === null && busy.vehicleId === e.token) {
        return { answer: { kind: "repeated", transactionId: busy.transactionId, token: "Accepted" } };
      }
      return refuse("connector-busy", `connector ${e.connectorId} is already charging a transaction`);
    }
    if (ch.txs.size >= this.cfg.maxTransactions) {
      return refuse(
        "too-many-transactions",
        `at most ${this.cfg.maxTransactions} open transactions per charge point`,
      );
    }
    if (!this.shares.fitsNew(ch)) {
      return refuse(
        "charge-point-full",
        `this charge point's ${ch.cp.maxKw} kW cannot hold one more transaction`,
      );
    }
    const transactionId = e.transactionId ?? String(this.registry.nextTransactionId());
    const token = e.openUnidentified ? status : this.tokenStatus(e.token);
    if (!e.openUnidentified && token !== "Accepted") {
      return { answer: { kind: "not-authorised", transactionId, token: token ?? "Invalid" } };
    }
    const vehicleId = token === "Accepted" ? (e.token ?? null) : null;
    const tx = this.open(ch, e.connectorId, transactionId, vehicleId, e.meterStartWh);
    // Bound only once the answer has gone out: the charger must know the transaction id before its profiles.
    const ctx = context.active();
    // Unidentified, it waits at 0 W with no session: a charger refusing limits may draw its maximum on it.
    const refused = !vehicleId && this.power.refusesLimits(ch);
    const afterAnswer = vehicleId
      ? () => context.with(ctx, () => void this.binder.bind(tx))
      : refused
        ? () => void this.ends.turnAway(tx, TURNED_AWAY.unidentified)
        : undefined;
    return { answer: { kind: "opened", transactionId, token }, ...(afterAnswer ? { afterAnswer } : {}) };
  }

  private async update(ch: Charger, e: TxUpdated): Promise<TokenStatus | undefined> {
    const tx = ch.txs.get(e.transactionId);
    const status = this.tokenStatus(e.token, e.transactionId);
    if (!tx) {
      // A transaction the grid already closed (after the offline grace, say), or never opened (refused).
      if (e.ended) this.power.strayEnded(ch, e.transactionId);
      // Its power judged as a MeterValues naming it is (a charger probe: 2.0.1 readings in TransactionEvents
      // for a transaction that was gone escaped the stray-draw check).
      else this.power.goneTxReading(ch, e.transactionId, e.connectorId, e.reading);
      return status;
    }
    if (status === "Accepted" && e.token !== undefined) this.binder.identify(tx, e.token);
    this.meters.read(tx, e.reading);
    this.power.stoppingReading(tx, e.reading);
    if (!e.ended) return status;
    const finalReport = this.meters.reportWaiting(tx);
    if (finalReport) await finalReport; // the session's final energy before its end
    await this.ends.end(ch, tx, "stopped");
    return status;
  }

  private open(
    ch: Charger,
    connectorId: number,
    transactionId: string,
    vehicleId: string | null,
    wh: number | undefined,
  ) {
    // A register that cannot be a meter's (negative, absurd) is not believed: the first reading sets it.
    const believed = wh !== undefined && plausibleRegister(wh);
    if (wh !== undefined && !believed) this.metrics.meterImplausible("meter_start");
    const tx = newTx(ch, connectorId, transactionId, vehicleId, believed ? wh : null);
    tx.trace = trace.getActiveSpan()?.spanContext() ?? null;
    this.table.addTx(ch, tx);
    this.power.opened(tx);
    this.registry.openTransaction({
      chargePointId: ch.cp.chargePointId,
      connectorId,
      transactionId,
      vehicleId,
      sessionId: null,
      meterStartWh: tx.meterStartWh,
      startedAt: tx.startedAtMs,
    });
    return tx;
  }
}
