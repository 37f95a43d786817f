import {
  bookingIdTagSchema,
  errorDataOf,
  type PowerEvent,
  type Session,
  vehicleIdSchema,
  walkInVehicleId,
} from "@evgrid/contract";
import { describeFailure, type Logger } from "@evgrid/kit";
import {
  type DrawSample,
  PRIORITY_WEIGHT,
  type ReclaimSettings,
  reclaimCap,
  shareAtLevel,
  trimSamples,
} from "@evgrid/policy";
import {
  type Context,
  context,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { createRPCError, type RPCClient } from "ocpp-rpc";
import type { Grid } from "./grid.ts";
import { type MeterReading, type MeterValue, readMeter, setProfileCall, stopCall } from "./messages.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { ProfilePusher } from "./profile-pusher.ts";
import type { ChargePoint, OcppProtocol, Registry } from "./registry.ts";

export interface GatewaySettings {
  heartbeatS: number;
  callTimeoutMs: number;
  offlineGraceMs: number;
  walkInMaxS: number;
  walkInMinKw: number;
  /** Open transactions per charge point at most. */
  maxTransactions: number;
  reclaim: ReclaimSettings;
}

/** A charger's transaction, bound (or being bound) to a grid session. */
export interface Tx {
  chargePointId: string;
  connectorId: number;
  transactionId: string;
  substationId: string;
  /** The idTag / idToken presented. null until a 2.0.1 charger reports who it is. */
  vehicleId: string | null;
  /** The grid vehicle id its admission asked for (`ocpp:<idTag>`, or a claimed booking's vehicle). */
  admittedAs: string | null;
  sessionId: string | null;
  /** The session's bounds, from which its power follows every water level. */
  limits: { minKw: number; maxKw: number; capKw: number | null; weight: number } | null;
  /** The power the admission answer gave, valid until a newer level than `levelVersion` arrives. */
  admittedKw: number;
  levelVersion: number;
  /** Waiting for power (walk-in on a full grid): the charger has a 0 W profile meanwhile. */
  waiting: boolean;
  admitting: AbortController | null;
  /** The grid ended the session; the charger has been asked to stop and its report is awaited. */
  gridEnded: boolean;
  meterStartWh: number;
  lastEnergy: { wh: number; atMs: number } | null;
  samples: DrawSample[];
  /** The trace of the transaction's start: its later calls (profiles, stops) join it. */
  trace: SpanContext | null;
}

interface Charger {
  cp: ChargePoint;
  client: RPCClient | null;
  protocol: OcppProtocol | null;
  connectedAt: number | null;
  /** Connector (1.6) / EVSE (2.0.1) status as last reported. */
  connectors: Map<number, string>;
  txs: Map<string, Tx>;
  pusher: ProfilePusher;
  offlineTimer: ReturnType<typeof setTimeout> | null;
}

type Handler = (
  params: Record<string, unknown>,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * charging: bound to a session; waiting: for power, at 0 W; binding: its session is being found or
 * admitted; unidentified: no valid vehicle id yet (2.0.1); stopping: the grid ended it, the charger is asked.
 */
export type TxState = "charging" | "waiting" | "binding" | "unidentified" | "stopping";
const stateOf = (tx: Tx): TxState =>
  tx.gridEnded
    ? "stopping"
    : tx.waiting
      ? "waiting"
      : tx.sessionId
        ? "charging"
        : tx.vehicleId
          ? "binding"
          : "unidentified";
const walkInKey = (tx: Tx) => `ocpp:${tx.chargePointId}:${tx.transactionId}`;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    const cancel = () => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener("abort", cancel, { once: true });
  });

/** Admission answers that mean "no power now": the transaction waits with a 0 W profile. */
const WAIT_REASONS = new Set([
  "GRID_FULL",
  "INSUFFICIENT_CAPACITY",
  "OPERATOR_LIMIT",
  "WAIT_QUEUE_FULL",
  "DEADLINE_EXCEEDED",
  "SUBSTATION_DRAINING",
]);
const MAX_WAIT_S = 300;

/**
 * The gateway's core: which charger holds which transaction, which session each one is, and what power each
 * charger must be told. OCPP messages come in through `connect`; the grid's power events through `onPower`.
 */
export class Gateway {
  private readonly chargers = new Map<string, Charger>();
  private readonly bySession = new Map<string, Tx>();
  private readonly levels = new Map<string, { levelKw: number | null; version: number }>();
  private closed = false;
  private levelSeq = 0;

  constructor(
    private readonly registry: Registry,
    private readonly grid: Grid,
    private readonly cfg: GatewaySettings,
    private readonly metrics: GatewayMetrics,
    private readonly tracer: Tracer,
    private readonly log: Logger,
  ) {}

  /** Transactions open when the gateway last stopped: their sessions kept power; their chargers get a grace. */
  restore(): number {
    const open = this.registry.openTransactions();
    for (const row of open) {
      const cp = this.registry.get(row.chargePointId);
      if (!cp) {
        this.registry.closeTransaction(row.chargePointId, row.transactionId, Date.now());
        continue;
      }
      const ch = this.charger(cp);
      const tx = this.newTx(cp, row.connectorId, row.transactionId, row.vehicleId, row.meterStartWh);
      ch.txs.set(tx.transactionId, tx);
      if (row.sessionId) this.resume(tx, row.sessionId);
      else if (tx.vehicleId) void this.bind(tx);
      this.startGrace(ch);
    }
    this.watchSites();
    return open.length;
  }

  // ---- connections ----------------------------------------------------------------------------------

  get connectedCount(): number {
    let n = 0;
    for (const ch of this.chargers.values()) if (ch.client) n++;
    return n;
  }

  /** A charger passed authentication: serve it. A second connection with the same id replaces the first. */
  connect(cp: ChargePoint, client: RPCClient): void {
    const ch = this.charger(cp);
    ch.cp = cp;
    const previous = ch.client;
    ch.client = client;
    ch.protocol = (client.protocol as OcppProtocol | undefined) ?? "ocpp1.6";
    ch.connectedAt = Date.now();
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    ch.offlineTimer = null;
    ch.pusher.forget();
    if (previous) void previous.close({ code: 1000, reason: "replaced by a new connection" }).catch(() => {});
    this.serve(ch, client, ch.protocol);
    client.on("close", () => {
      if (ch.client !== client) return;
      ch.client = null;
      ch.connectedAt = null;
      this.log.info("charge point disconnected", { chargePointId: cp.chargePointId });
      if (ch.txs.size > 0) this.startGrace(ch);
    });
    this.log.info("charge point connected", { chargePointId: cp.chargePointId, protocol: ch.protocol });
    // Back within the grace period: its transactions resume, with their current power sent again.
    if (cp.bootedAt !== null) for (const tx of ch.txs.values()) this.afterReconnect(ch, tx);
  }

  private afterReconnect(ch: Charger, tx: Tx): void {
    if (tx.gridEnded) void this.askToStop(ch, tx);
    else this.push(tx, Date.now());
  }

  private startGrace(ch: Charger): void {
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    ch.offlineTimer = setTimeout(() => {
      ch.offlineTimer = null;
      if (ch.client) return;
      for (const tx of [...ch.txs.values()]) void this.endTransaction(ch, tx, "charger_offline");
    }, this.cfg.offlineGraceMs);
    ch.offlineTimer.unref?.();
  }

  // ---- inbound messages -------------------------------------------------------------------------------

  private serve(ch: Charger, client: RPCClient, protocol: OcppProtocol): void {
    const id = ch.cp.chargePointId;
    const handle = (action: string, fn: Handler) =>
      client.handle(action, ({ params }) =>
        this.inSpan(`ocpp ${action}`, SpanKind.SERVER, id, action, null, async () => {
          if (action !== "BootNotification" && ch.cp.bootedAt === null) {
            throw createRPCError("SecurityError", "send BootNotification first");
          }
          return fn((params ?? {}) as Record<string, unknown>);
        }),
      );
    // Any other action (unknown, or one this gateway does not serve) is answered NotImplemented by the library
    // before its payload is looked at.
    handle("BootNotification", () => {
      const at = Date.now();
      this.registry.markBooted(id, at);
      ch.cp = { ...ch.cp, bootedAt: at };
      setTimeout(() => {
        for (const tx of ch.txs.values()) this.afterReconnect(ch, tx);
      }, 0);
      return { status: "Accepted", currentTime: new Date(at).toISOString(), interval: this.cfg.heartbeatS };
    });
    handle("Heartbeat", () => ({ currentTime: new Date().toISOString() }));
    handle("StatusNotification", (p) => {
      const connector = Number(protocol === "ocpp1.6" ? p.connectorId : p.evseId);
      const status = String(protocol === "ocpp1.6" ? p.status : p.connectorStatus);
      if (ch.connectors.size < 64 || ch.connectors.has(connector)) ch.connectors.set(connector, status);
      return {};
    });
    handle("Authorize", (p) => {
      const token = protocol === "ocpp1.6" ? p.idTag : (p.idToken as { idToken: string }).idToken;
      const status = vehicleIdSchema.safeParse(token).success ? "Accepted" : "Invalid";
      return protocol === "ocpp1.6" ? { idTagInfo: { status } } : { idTokenInfo: { status } };
    });
    handle("MeterValues", (p) => {
      const tx =
        protocol === "ocpp1.6" && p.transactionId !== undefined
          ? ch.txs.get(String(p.transactionId))
          : this.txOnConnector(ch, Number(protocol === "ocpp1.6" ? p.connectorId : p.evseId));
      if (tx) this.meter(tx, readMeter(p.meterValue as MeterValue[]));
      return {};
    });

    if (protocol === "ocpp1.6") {
      handle("StartTransaction", (p) => this.start16(ch, p));
      handle("StopTransaction", async (p) => {
        const tx = ch.txs.get(String(p.transactionId));
        // Unknown (already ended, e.g. after the offline grace): acknowledged, or the charger retries forever.
        if (tx) {
          this.meter(tx, { energyWh: Number(p.meterStop) });
          await this.endTransaction(ch, tx, "stopped");
        }
        return {};
      });
    } else {
      handle("TransactionEvent", (p) => this.transactionEvent201(ch, p));
    }
  }

  private start16(ch: Charger, p: Record<string, unknown>) {
    const connectorId = Number(p.connectorId);
    const idTag = String(p.idTag);
    const busy = this.txOnConnector(ch, connectorId);
    if (busy) {
      // The same vehicle again (a retry after a lost answer): the same transaction.
      if (busy.vehicleId === idTag) {
        return { transactionId: Number(busy.transactionId), idTagInfo: { status: "Accepted" } };
      }
      throw createRPCError("GenericError", `connector ${connectorId} is already charging a transaction`);
    }
    this.roomForTransaction(ch);
    const transactionId = this.registry.nextTransactionId();
    if (!vehicleIdSchema.safeParse(idTag).success) {
      return { transactionId, idTagInfo: { status: "Invalid" } };
    }
    // One vehicle, one transaction: plugged in elsewhere already, this one is refused (the charger stops it).
    if (this.chargingVehicle(idTag)) return { transactionId, idTagInfo: { status: "ConcurrentTx" } };
    this.open(ch, connectorId, String(transactionId), idTag, Number(p.meterStart));
    return { transactionId, idTagInfo: { status: "Accepted" } };
  }

  private async transactionEvent201(ch: Charger, p: Record<string, unknown>) {
    const info = p.transactionInfo as { transactionId: string };
    const token = (p.idToken as { idToken?: string } | undefined)?.idToken;
    const evse = (p.evse as { id: number } | undefined)?.id;
    const valid = token !== undefined && vehicleIdSchema.safeParse(token).success;
    const status =
      token === undefined
        ? undefined
        : !valid
          ? "Invalid"
          : this.chargingVehicle(token, info.transactionId)
            ? "ConcurrentTx"
            : "Accepted";
    const tokenOk = status === undefined ? undefined : status === "Accepted";
    const answer = status === undefined ? {} : { idTokenInfo: { status } };
    const reading = readMeter(p.meterValue as MeterValue[] | undefined);
    let tx = ch.txs.get(info.transactionId);

    if (p.eventType === "Started") {
      if (tx) {
        if (evse !== undefined && evse !== tx.connectorId) {
          throw createRPCError(
            "PropertyConstraintViolation",
            "transactionId is already in use on another EVSE",
          );
        }
        return answer; // a repeat of the same Started
      }
      if (this.registry.findTransaction(ch.cp.chargePointId, info.transactionId)) {
        throw createRPCError("PropertyConstraintViolation", "transactionId was already used");
      }
      if (evse === undefined) {
        throw createRPCError("OccurrenceConstraintViolation", "evse is required when a transaction starts");
      }
      if (this.txOnConnector(ch, evse)) {
        throw createRPCError("GenericError", `EVSE ${evse} is already charging a transaction`);
      }
      this.roomForTransaction(ch);
      tx = this.open(ch, evse, info.transactionId, tokenOk ? (token as string) : null, reading.energyWh ?? 0);
      return answer;
    }
    if (!tx) return answer; // Updated/Ended of a transaction the grid already closed
    if (tx.vehicleId === null && tokenOk) {
      tx.vehicleId = token as string;
      this.registry.bind(ch.cp.chargePointId, tx.transactionId, tx.vehicleId, null);
      void this.bind(tx);
    }
    this.meter(tx, reading);
    if (p.eventType === "Ended") await this.endTransaction(ch, tx, "stopped");
    return answer;
  }

  // ---- binding transactions to sessions -----------------------------------------------------------

  private open(
    ch: Charger,
    connectorId: number,
    transactionId: string,
    vehicleId: string | null,
    meterWh: number,
  ) {
    const tx = this.newTx(ch.cp, connectorId, transactionId, vehicleId, meterWh);
    tx.trace = trace.getActiveSpan()?.spanContext() ?? null;
    ch.txs.set(transactionId, tx);
    this.registry.openTransaction({
      chargePointId: ch.cp.chargePointId,
      connectorId,
      transactionId,
      vehicleId,
      sessionId: null,
      meterStartWh: Number.isFinite(meterWh) ? meterWh : 0,
      startedAt: Date.now(),
    });
    this.watchSites();
    // After the answer has gone out: the charger must know the transaction id before profiles for it.
    const ctx = context.active();
    if (vehicleId) setTimeout(() => context.with(ctx, () => void this.bind(tx)), 0);
    return tx;
  }

  /**
   * The idTag is a booking's (its owner was told it): that session at this substation becomes this
   * transaction's; booked elsewhere, it is released there and the booked vehicle admitted here as a walk-in.
   * Any other idTag is a walk-in of its own (`ocpp:<idTag>`): a vehicle id claims nobody's booking.
   */
  private async bind(tx: Tx): Promise<void> {
    const idTag = tx.vehicleId as string;
    for (let attempt = 0; this.isOpen(tx); attempt++) {
      try {
        const found = await this.findBooking(idTag);
        if (found && this.bySession.has(found.sessionId)) return this.concurrent(tx);
        if (found && found.substationId === tx.substationId) return this.attach(tx, found, found.allocatedKw);
        if (found) {
          await this.grid.balancers.call((b) =>
            b.stopSession.mutate({ sessionId: found.sessionId, reason: "stopped" }),
          );
          this.log.info("booking claimed at another substation; released there", {
            sessionId: found.sessionId,
          });
          return await this.admit(tx, found.vehicleId);
        }
        return await this.admit(tx, walkInVehicleId(idTag));
      } catch (err) {
        this.log.warn("cannot look the idTag up yet; retrying", { error: describeFailure(err) });
        await sleep(Math.min(10_000, 500 * 2 ** attempt));
      }
    }
  }

  /** The booking an idTag claims, or null: only a booking's shape is looked up (OCPP compares ignoring case). */
  private async findBooking(idTag: string): Promise<Session | null> {
    const tag = idTag.toUpperCase();
    if (!bookingIdTagSchema.safeParse(tag).success) return null;
    return this.grid.balancers.call((b) => b.findBooking.query({ idTag: tag }));
  }

  /** A walk-in: admitted at the charger's own substation, waiting (0 W) while the grid is full. */
  private async admit(tx: Tx, vehicleId: string): Promise<void> {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch) return;
    const ac = new AbortController();
    tx.admitting = ac;
    const maxKw = ch.cp.maxKw;
    tx.admittedAs = vehicleId;
    for (let attempt = 0; this.isOpen(tx) && !ac.signal.aborted; ) {
      const waitS = tx.waiting ? MAX_WAIT_S : undefined;
      const levelVersion = this.levels.get(tx.substationId)?.version ?? -1;
      try {
        const { session } = await this.grid.balancers.call(
          (b) =>
            b.dispatch.mutate(
              {
                vehicleId,
                maxKw,
                minKw: Math.min(maxKw, this.cfg.walkInMinKw),
                durationS: this.cfg.walkInMaxS,
                substationId: tx.substationId,
                idempotencyKey: walkInKey(tx),
                ...(waitS === undefined ? {} : { waitS }),
              },
              { context: { timeoutMs: (waitS ?? 5) * 1000 + 10_000, signal: ac.signal } },
            ),
          // It carries its idempotency key: an answer lost with a replica may be asked of another.
          { retryUncertain: true },
        );
        tx.admitting = null;
        if (!this.isOpen(tx)) {
          // The charger stopped while the admission was on its way: give the power back.
          await this.grid.balancers
            .call((b) => b.stopSession.mutate({ sessionId: session.sessionId }))
            .catch(() => {});
          return;
        }
        tx.levelVersion = levelVersion;
        return this.attach(tx, session, session.allocatedKw);
      } catch (err) {
        if (ac.signal.aborted) return;
        const reason = errorDataOf(err)?.reason;
        if (reason !== undefined && WAIT_REASONS.has(reason)) {
          if (!tx.waiting) {
            tx.waiting = true;
            this.log.info("grid full: the transaction waits for power at 0 W", { vehicleId });
            this.push(tx, Date.now());
          }
          attempt = 0;
          continue;
        }
        if (reason === "VEHICLE_ALREADY_CHARGING") {
          tx.admitting = null;
          // A claimed booking's vehicle booked again meanwhile: the holder charges as a walk-in instead.
          const own = walkInVehicleId(tx.vehicleId as string);
          if (vehicleId !== own) return this.admit(tx, own);
          return this.concurrent(tx);
        }
        if (reason === "EXCEEDS_SITE_CAPACITY" || reason === "INVALID_INPUT") {
          this.log.warn("walk-in can never be admitted here; stopping it", {
            vehicleId,
            reason,
          });
          tx.gridEnded = true;
          await this.askToStop(ch, tx);
          return;
        }
        this.log.warn("walk-in admission failed; retrying", {
          vehicleId,
          error: describeFailure(err),
        });
        await sleep(Math.min(10_000, 500 * 2 ** attempt++), ac.signal);
      }
    }
  }

  /** Its idTag holds a session already (another transaction, or elsewhere in the grid): this one is stopped. */
  private async concurrent(tx: Tx): Promise<void> {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch || !this.isOpen(tx)) return;
    this.log.warn("idTag is charging elsewhere; stopping this transaction", {
      chargePointId: tx.chargePointId,
      transactionId: tx.transactionId,
    });
    tx.gridEnded = true;
    await this.askToStop(ch, tx);
  }

  private attach(tx: Tx, s: Session, admittedKw: number): void {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch) return;
    tx.sessionId = s.sessionId;
    tx.waiting = false;
    tx.admittedKw = admittedKw;
    tx.limits = { minKw: s.minKw, maxKw: s.maxKw, capKw: s.capKw, weight: PRIORITY_WEIGHT[s.priority] };
    this.bySession.set(s.sessionId, tx);
    this.registry.bind(tx.chargePointId, tx.transactionId, tx.vehicleId, s.sessionId);
    this.log.info("transaction bound to session", {
      transactionId: tx.transactionId,
      sessionId: s.sessionId,
    });
    // A session booked for more than this charger can give: the rest goes to the others.
    if (s.maxKw > ch.cp.maxKw && (s.capKw === null || s.capKw > ch.cp.maxKw)) this.setCap(tx, ch.cp.maxKw);
    this.push(tx, Date.now());
  }

  /** After a gateway restart: the session is read back from its substation once it can be reached. */
  private resume(tx: Tx, sessionId: string): void {
    tx.sessionId = sessionId;
    this.bySession.set(sessionId, tx);
    void (async () => {
      for (let attempt = 0; this.isOpen(tx); attempt++) {
        const site = this.grid.site(tx.substationId);
        try {
          if (site) {
            const s = await site.getSession.query({ sessionId });
            if (s.status === "ended") return this.onEnded(sessionId);
            return this.attach(tx, s, s.allocatedKw);
          }
        } catch (err) {
          if (errorDataOf(err)?.reason === "SESSION_NOT_FOUND") return this.onEnded(sessionId);
        }
        await sleep(Math.min(10_000, 250 * 2 ** attempt));
      }
    })();
  }

  /** The charger reported the end, or it stayed offline: the session ends and power goes to the others. */
  private async endTransaction(ch: Charger, tx: Tx, reason: "stopped" | "charger_offline"): Promise<void> {
    ch.txs.delete(tx.transactionId);
    if (tx.admitting) {
      tx.admitting.abort();
      void this.releaseOrphan(tx);
    }
    ch.pusher.forget(tx.connectorId);
    this.registry.closeTransaction(ch.cp.chargePointId, tx.transactionId, Date.now());
    const sessionId = tx.sessionId;
    if (sessionId) this.bySession.delete(sessionId);
    this.watchSites();
    if (sessionId && !tx.gridEnded) {
      await this.grid.balancers
        .call((b) => b.stopSession.mutate({ sessionId, reason }))
        .catch((err) =>
          this.log.warn("could not end the session", { sessionId, reason, error: describeFailure(err) }),
        );
    }
    if (reason === "charger_offline") {
      this.log.warn("charger stayed offline; its session ended", {
        chargePointId: ch.cp.chargePointId,
        sessionId,
      });
    }
  }

  /**
   * The transaction ended while its admission was on its way: the grid may have admitted it anyway (the
   * hang-up arriving after the substation said yes). Such a session, found by the walk-in's idempotency
   * key and bound to no transaction, is stopped.
   */
  private async releaseOrphan(tx: Tx): Promise<void> {
    if (!tx.vehicleId) return;
    await sleep(1000);
    try {
      const vehicleId = tx.admittedAs ?? walkInVehicleId(tx.vehicleId);
      const found = await this.grid.balancers.call((b) => b.findVehicleSession.query({ vehicleId }));
      if (found && found.idempotencyKey === walkInKey(tx) && !this.bySession.has(found.sessionId)) {
        await this.grid.balancers.call((b) => b.stopSession.mutate({ sessionId: found.sessionId }));
      }
    } catch (err) {
      this.log.warn("could not check for a session admitted after its transaction ended", {
        vehicleId: tx.admittedAs,
        error: describeFailure(err),
      });
    }
  }

  private isOpen(tx: Tx): boolean {
    return !this.closed && this.chargers.get(tx.chargePointId)?.txs.get(tx.transactionId) === tx;
  }

  // ---- power ------------------------------------------------------------------------------------------

  /** A substation's event: a new water level (every transaction there gets its share) or a session's end. */
  onPower(e: PowerEvent): void {
    if (e.type === "ended") {
      this.onEnded(e.sessionId);
      return;
    }
    // Counted here, not by the substation's own version (which starts again when it restarts).
    this.levels.set(e.substationId, { levelKw: e.levelKw, version: ++this.levelSeq });
    for (const ch of this.chargers.values()) {
      if (ch.cp.substationId !== e.substationId) continue;
      for (const tx of ch.txs.values()) if (tx.sessionId) this.push(tx, e.atMs);
    }
  }

  private onEnded(sessionId: string): void {
    const tx = this.bySession.get(sessionId);
    if (!tx) return;
    this.bySession.delete(sessionId);
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch || tx.gridEnded) return;
    tx.gridEnded = true;
    void this.askToStop(ch, tx);
  }

  /** The power a transaction's charger should be given now, in kW. */
  powerOf(tx: Tx): number {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch || !tx.limits || tx.gridEnded || tx.waiting || !tx.sessionId) return 0;
    const level = this.levels.get(tx.substationId);
    const { minKw, maxKw, capKw, weight } = tx.limits;
    const kw =
      level && level.version > tx.levelVersion
        ? shareAtLevel({ minKw, maxKw: capKw ?? maxKw, weight }, level.levelKw)
        : tx.admittedKw;
    return Math.min(kw, ch.cp.maxKw);
  }

  private push(tx: Tx, sinceMs: number): void {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch?.client || ch.cp.bootedAt === null || tx.gridEnded) return;
    if (!tx.waiting && !tx.sessionId) return; // not decided yet
    ch.pusher.want(tx.connectorId, tx.transactionId, Math.round(this.powerOf(tx) * 1000), sinceMs);
  }

  private sendProfile(
    ch: Charger,
    connectorId: number,
    transactionId: string,
    watts: number,
  ): Promise<string> {
    const client = ch.client;
    if (!client || !ch.protocol) return Promise.reject(new Error("charger offline"));
    const tx = ch.txs.get(transactionId);
    const params = setProfileCall(ch.protocol, connectorId, transactionId, watts);
    return this.call(ch, client, "SetChargingProfile", params, tx?.trace ?? null).then(
      (r) => (r as { status: string }).status,
    );
  }

  private async askToStop(ch: Charger, tx: Tx): Promise<void> {
    if (!ch.client || !ch.protocol) return; // asked again when it reconnects
    const [action, params] = stopCall(ch.protocol, tx.transactionId);
    await this.call(ch, ch.client, action, params, tx.trace).catch((err) =>
      this.log.warn("charger did not accept the stop", {
        chargePointId: ch.cp.chargePointId,
        error: describeFailure(err),
      }),
    );
  }

  private call(ch: Charger, client: RPCClient, action: string, params: unknown, parent: SpanContext | null) {
    return this.inSpan(`ocpp ${action}`, SpanKind.CLIENT, ch.cp.chargePointId, action, parent, () =>
      client.call(action, params, { callTimeoutMs: this.cfg.callTimeoutMs }),
    );
  }

  // ---- meters and reclaim -----------------------------------------------------------------------------

  private meter(tx: Tx, r: MeterReading): void {
    const now = Date.now();
    let drawW = r.powerW;
    if (r.energyWh !== undefined && Number.isFinite(r.energyWh)) {
      const prev = tx.lastEnergy;
      if (drawW === undefined && prev && now - prev.atMs >= 1000) {
        drawW = ((r.energyWh - prev.wh) * 3_600_000) / (now - prev.atMs);
      }
      tx.lastEnergy = { wh: r.energyWh, atMs: now };
      const site = this.grid.site(tx.substationId);
      if (tx.sessionId && !tx.gridEnded && site) {
        const energyKwh = Math.max(0, (r.energyWh - tx.meterStartWh) / 1000);
        void site.reportMeter.mutate({ sessionId: tx.sessionId, energyKwh }).catch(() => {});
      }
    }
    if (drawW === undefined || !Number.isFinite(drawW) || !tx.limits || !tx.sessionId) return;
    tx.samples.push({ atMs: now, drawKw: Math.max(0, drawW / 1000) });
    trimSamples(tx.samples, now, this.cfg.reclaim.windowMs);
    this.reclaim(tx, now);
  }

  private reclaim(tx: Tx, now: number): void {
    const ch = this.chargers.get(tx.chargePointId);
    if (!ch || !tx.limits) return;
    // The charge point's own maximum is a cap of its own (set at binding), not a reclaim.
    const base = tx.limits.maxKw > ch.cp.maxKw ? ch.cp.maxKw : null;
    const maxKw = Math.min(tx.limits.maxKw, ch.cp.maxKw);
    const capKw = tx.limits.capKw === base ? null : tx.limits.capKw;
    const decision = reclaimCap(
      tx.samples,
      now,
      { minKw: tx.limits.minKw, maxKw, capKw, allocatedKw: this.powerOf(tx) },
      this.cfg.reclaim,
    );
    if (decision === undefined) return;
    const next = decision ?? base;
    if (next !== tx.limits.capKw) this.setCap(tx, next);
  }

  private setCap(tx: Tx, capKw: number | null): void {
    const site = this.grid.site(tx.substationId);
    if (!site || !tx.sessionId || !tx.limits) return;
    const limits = tx.limits;
    const previous = limits.capKw;
    limits.capKw = capKw; // optimistic, so a burst of readings asks once
    void site.setSessionCap.mutate({ sessionId: tx.sessionId, capKw }).then(
      () => this.log.info("session cap changed", { sessionId: tx.sessionId, capKw }),
      (err) => {
        if (limits.capKw === capKw) limits.capKw = previous;
        this.log.warn("could not change the session's cap", { error: describeFailure(err) });
      },
    );
  }

  /** Power taken back from vehicles drawing less than their share (the reclaimed-power gauge). */
  reclaimedKw(): number {
    let kw = 0;
    for (const tx of this.bySession.values()) {
      const ch = this.chargers.get(tx.chargePointId);
      if (!ch || !tx.limits || tx.limits.capKw === null) continue;
      kw += Math.max(0, Math.min(tx.limits.maxKw, ch.cp.maxKw) - tx.limits.capKw);
    }
    return kw;
  }

  // ---- registry -------------------------------------------------------------------------------------

  /** A charge point was removed: it is disconnected and its sessions end. */
  async removed(chargePointId: string): Promise<void> {
    const ch = this.chargers.get(chargePointId);
    if (!ch) return;
    for (const tx of [...ch.txs.values()]) await this.endTransaction(ch, tx, "stopped");
    await ch.client?.close({ code: 1008, reason: "charge point removed" }).catch(() => {});
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    this.chargers.delete(chargePointId);
  }

  status(cp: ChargePoint) {
    const ch = this.chargers.get(cp.chargePointId);
    const connectors = new Map<number, { connectorId: number; status: string | null }>();
    for (const [connectorId, status] of ch?.connectors ?? [])
      connectors.set(connectorId, { connectorId, status });
    const txs = [...(ch?.txs.values() ?? [])].map((tx) => ({
      connectorId: tx.connectorId,
      transactionId: tx.transactionId,
      vehicleId: tx.vehicleId,
      sessionId: tx.sessionId,
      state: stateOf(tx),
      profileW: ch?.pusher.lastSent(tx.connectorId) ?? null,
      capKw: tx.limits?.capKw ?? null,
    }));
    return {
      connected: Boolean(ch?.client),
      protocol: ch?.client ? ch.protocol : null,
      connectedAt: ch?.connectedAt ? new Date(ch.connectedAt).toISOString() : null,
      connectors: [...connectors.values()].sort((a, b) => a.connectorId - b.connectorId),
      transactions: txs,
    };
  }

  txCounts(): Record<TxState, number> {
    const counts: Record<TxState, number> = {
      charging: 0,
      waiting: 0,
      binding: 0,
      unidentified: 0,
      stopping: 0,
    };
    for (const ch of this.chargers.values()) for (const tx of ch.txs.values()) counts[stateOf(tx)]++;
    return counts;
  }

  /**
   * The safety net under the power events: every bound session is read back from its substation, and one
   * that ended there (its `ended` event lost while a link was down, say) is handled as if the event came.
   * Returns how many it found ended.
   */
  async reconcile(): Promise<number> {
    // All asked at once: over a link, the calls of one turn travel in one frame per substation.
    const checks = [...this.bySession].map(async ([sessionId, tx]) => {
      const site = this.grid.site(tx.substationId);
      if (!site || tx.gridEnded) return false;
      try {
        const s = await site.getSession.query({ sessionId });
        if (s.status !== "ended") return false;
      } catch (err) {
        if (errorDataOf(err)?.reason !== "SESSION_NOT_FOUND") return false; // unreachable: try next time
      }
      if (this.closed || this.bySession.get(sessionId) !== tx) return false;
      this.log.warn("a session ended without its event reaching the gateway; stopping its charger", {
        sessionId,
      });
      this.onEnded(sessionId);
      return true;
    });
    return (await Promise.all(checks)).filter(Boolean).length;
  }

  /** Only substations with our charge points are watched. */
  watchSites(): void {
    const ids = new Set<string>();
    for (const ch of this.chargers.values()) if (ch.txs.size > 0 || ch.client) ids.add(ch.cp.substationId);
    this.grid.watchOnly(ids);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ch of this.chargers.values()) {
      if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
      for (const tx of ch.txs.values()) tx.admitting?.abort();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------------

  private charger(cp: ChargePoint): Charger {
    let ch = this.chargers.get(cp.chargePointId);
    if (!ch) {
      const made: Charger = {
        cp,
        client: null,
        protocol: null,
        connectedAt: null,
        connectors: new Map(),
        txs: new Map(),
        offlineTimer: null,
        pusher: new ProfilePusher(
          (connectorId, transactionId, watts) => this.sendProfile(made, connectorId, transactionId, watts),
          (o, connectorId, watts) => {
            this.metrics.profile(o.outcome, o.latencyMs);
            if (o.outcome !== "accepted") {
              this.log.warn("charging profile not applied", {
                chargePointId: cp.chargePointId,
                connectorId,
                watts,
                outcome: o.outcome,
              });
            }
          },
        ),
      };
      ch = made;
      this.chargers.set(cp.chargePointId, ch);
    }
    return ch;
  }

  private newTx(
    cp: ChargePoint,
    connectorId: number,
    transactionId: string,
    vehicleId: string | null,
    wh: number,
  ) {
    const tx: Tx = {
      chargePointId: cp.chargePointId,
      connectorId,
      transactionId,
      substationId: cp.substationId,
      vehicleId,
      admittedAs: null,
      sessionId: null,
      limits: null,
      admittedKw: 0,
      levelVersion: -1,
      waiting: false,
      admitting: null,
      gridEnded: false,
      meterStartWh: Number.isFinite(wh) ? wh : 0,
      lastEnergy: null,
      samples: [],
      trace: null,
    };
    return tx;
  }

  /** Refuses a new transaction past the charge point's limit of open ones (each books grid power). */
  private roomForTransaction(ch: Charger): void {
    if (ch.txs.size >= this.cfg.maxTransactions) {
      throw createRPCError(
        "GenericError",
        `at most ${this.cfg.maxTransactions} open transactions per charge point`,
      );
    }
  }

  /** Is this vehicle in an open transaction (other than `except`) on any charger? */
  private chargingVehicle(vehicleId: string, except?: string): boolean {
    for (const ch of this.chargers.values()) {
      for (const tx of ch.txs.values()) {
        if (tx.vehicleId === vehicleId && tx.transactionId !== except && !tx.gridEnded) return true;
      }
    }
    return false;
  }

  private txOnConnector(ch: Charger, connectorId: number): Tx | undefined {
    for (const tx of ch.txs.values()) if (tx.connectorId === connectorId) return tx;
    return undefined;
  }

  /** A span per OCPP call, in either direction; a call with a parent joins that trace (its dispatch's). */
  private async inSpan<T>(
    name: string,
    kind: SpanKind,
    chargePointId: string,
    action: string,
    parent: SpanContext | null,
    fn: () => Promise<T> | T,
  ): Promise<T> {
    const direction = kind === SpanKind.SERVER ? "in" : "out";
    const ctx: Context = parent ? trace.setSpanContext(context.active(), parent) : context.active();
    return this.tracer.startActiveSpan(
      name,
      { kind, attributes: { "ocpp.action": action, "ocpp.charge_point": chargePointId } },
      ctx,
      async (span) => {
        try {
          const out = await fn();
          this.metrics.message(action, direction, "ok");
          return out;
        } catch (err) {
          const code = (err as { rpcErrorCode?: string }).rpcErrorCode;
          const outcome = (err as Error)?.name === "TimeoutError" ? "timeout" : (code ?? "error");
          this.metrics.message(action, direction, outcome);
          span.setStatus({ code: SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }
}
