/**
 * The gateway's version-free model: what a charger says (events the OCPP adapters make of 1.6 and 2.0.1
 * messages), what it is answered, and a transaction's state. Types only, no behaviour.
 */
import type { DrawSample } from "@evgrid/policy";
import type { SpanContext } from "@opentelemetry/api";

export type OcppProtocol = "ocpp1.6" | "ocpp2.0.1";

/** What a meter reported, in the gateway's units. */
export interface MeterReading {
  /** Energy.Active.Import.Register, in Wh (the meter's absolute register). */
  energyWh?: number;
  /** Power.Active.Import, in W: what the vehicle draws now. */
  powerW?: number;
}

/** An idTag / idToken as the gateway judges it. */
export type TokenStatus = "Accepted" | "Invalid" | "ConcurrentTx";

/** A charger says a transaction started on a connector (1.6 StartTransaction, 2.0.1 TransactionEvent Started). */
export interface TxStarted {
  /** The connector (1.6) / EVSE (2.0.1); undefined when a 2.0.1 charger left it out. */
  connectorId: number | undefined;
  /** Named by the charger (2.0.1); null: the gateway hands one out (1.6). */
  transactionId: string | null;
  /** The idTag / idToken presented, if any. */
  token: string | undefined;
  /** The meter's register at the start, if the charger said (2.0.1 may not). */
  meterStartWh: number | undefined;
  /**
   * A start whose token is not accepted is still opened, unidentified (2.0.1: a transaction exists from the
   * cable plug-in, before authorisation); otherwise it is refused and the charger stops it itself (1.6).
   */
  openUnidentified: boolean;
}

/** Why a start was refused (the adapter says it in OCPP terms). */
export type StartRefusal =
  | "connector-missing"
  | "connector-busy"
  | "too-many-transactions"
  /** The charge point's maximum cannot hold one more transaction's minimum. */
  | "charge-point-full"
  | "transaction-id-reused"
  | "transaction-id-on-other-connector";

export type StartOutcome =
  | { kind: "opened"; transactionId: string; token: TokenStatus | undefined }
  /** The same start again (an answer lost on the way): the same transaction. */
  | { kind: "repeated"; transactionId: string; token: TokenStatus | undefined }
  /** Not opened: the token is not accepted. */
  | { kind: "not-authorised"; transactionId: string; token: TokenStatus }
  | { kind: "refused"; reason: StartRefusal; message: string }
  /** A connector id the charge point was not registered with; `transactionId` as named or handed out. */
  | { kind: "bad-connector"; transactionId: string; message: string };

/** Later news of a transaction (2.0.1 Updated/Ended, 1.6 StopTransaction). */
export interface TxUpdated {
  transactionId: string;
  /** 2.0.1 names its EVSE only in a transaction's first event (or the first once it is known). */
  connectorId?: number | undefined;
  token: string | undefined;
  reading: MeterReading;
  ended: boolean;
}

export interface MeterEvent {
  connectorId: number;
  /** 1.6 may name the transaction; otherwise the one on the connector. */
  transactionId: string | undefined;
  reading: MeterReading;
}

/** An answer, and what must happen only once it has gone out (e.g. profiles for a transaction id it carries). */
export interface Answered<T> {
  answer: T;
  afterAnswer?: () => void;
}

/** What the adapters tell the gateway: one charger's events, version-free. */
export interface ChargerEvents {
  /** Until an accepted BootNotification, only BootNotification is served. */
  readonly booted: boolean;
  /** Answered once the charger has its default limit (or a bounded wait for it passed). */
  boot(): Promise<Answered<{ atMs: number; heartbeatS: number }>>;
  status(connectorId: number, status: string): void;
  authorize(token: string): TokenStatus;
  start(e: TxStarted): Answered<StartOutcome>;
  update(e: TxUpdated): Promise<TokenStatus | undefined>;
  meter(e: MeterEvent): void;
  /**
   * What the car needs (2.0.1 NotifyEVChargingNeeds, ISO 15118): taken by its bound transaction, kept until
   * its transaction is bound (Processing), or not taken.
   */
  needs(e: EvNeeds): "Accepted" | "Processing" | "Rejected";
}

/** A car's charging needs on a connector: its energy, its departure, its own maximum power. */
export interface EvNeeds {
  connectorId: number;
  energyKwh?: number;
  departAtMs?: number;
  maxKw?: number;
}

/** What the gateway can ask of a connected charger, version-free (the adapters build the messages). */
export interface ChargerLink {
  readonly protocol: OcppProtocol;
  /** A TxProfile for the transaction with this limit in W; resolves to the charger's status. */
  setLimit(
    connectorId: number,
    transactionId: string,
    watts: number,
    parent: SpanContext | null,
  ): Promise<string>;
  /** A charge-point-wide TxDefaultProfile (connector 0 / EVSE 0) with this limit in W; the charger's status. */
  setDefaultLimit(watts: number): Promise<string>;
  /** RemoteStopTransaction (1.6) / RequestStopTransaction (2.0.1). */
  requestStop(transactionId: string, parent: SpanContext | null): Promise<string>;
  /**
   * Asks it to report its energy register and power every `intervalS` while it charges (meter-values.ts's
   * METER_MEASURANDS): "Accepted", else the first other status it answered.
   */
  configureMeterReports(intervalS: number): Promise<string>;
  /**
   * Asks it to stop a transaction whose start the gateway refused (1.6 StopTransactionOnInvalidId, 2.0.1
   * TxCtrlr.StopTxOnInvalidId): "Accepted", else its status.
   */
  configureStopOnInvalidId(): Promise<string>;
  close(code: number, reason: string): Promise<void>;
  onClose(fn: () => void): void;
}

/** A session's bounds, from which its power follows every water level. */
export interface SessionLimits {
  minKw: number;
  maxKw: number;
  capKw: number | null;
  weight: number;
  /** Its charger takes no limits: the session is held at its maximum in the substation's books. */
  pinned?: boolean;
  /** The car's own maximum as last told to the substation (it lowers the minimum there if below it). */
  carMaxKw?: number | null;
}

/**
 * Where a transaction is in its binding to a grid session. unidentified: no valid token yet (2.0.1);
 * binding: its session is being found or admitted; waiting: for power (walk-in on a full grid), at 0 W;
 * resuming: bound before a gateway restart, its session being read back; charging: bound, with its power;
 * stopping: the grid ended its session, the charger is asked to stop and its report is awaited.
 */
export type TxPhase =
  | { state: "unidentified" }
  | { state: "binding" }
  | { state: "waiting" }
  | { state: "resuming"; sessionId: string }
  | {
      state: "charging";
      sessionId: string;
      limits: SessionLimits;
      /** The power the admission answer gave, valid until a newer level than `levelVersion` arrives. */
      admittedKw: number;
      levelVersion: number;
      /** Its share of the charge point's maximum (null: its own maximum fits), a cap at the substation. */
      chargePointKw: number | null;
      /** Reclaimed: it draws well below its power (null: not). Its cap is the lower of the two. */
      reclaimKw: number | null;
      /** The car's own maximum, as it reported it (NotifyEVChargingNeeds): a cap too. */
      evMaxKw?: number;
      /** The energy its session asks (its booking's, then the car's last asked), or null: a timed walk-in. */
      energyKwh: number | null;
    }
  | { state: "stopping" };

/** The states shown to operators (listChargePoints, the transactions gauge). */
export type TxState = "charging" | "waiting" | "binding" | "unidentified" | "stopping";

/** A charger's transaction, bound (or being bound) to a grid session. */
export interface Tx {
  chargePointId: string;
  connectorId: number;
  transactionId: string;
  substationId: string;
  /** The idTag / idToken: the vehicle. null until a 2.0.1 charger reports who it is. */
  vehicleId: string | null;
  phase: TxPhase;
  /** Aborted when the transaction ends (or the gateway stops): its retries and calls give up. */
  life: AbortController;
  startedAtMs: number;
  /** The register at the start; null: unknown (not said, or not believable), the first reading sets it. */
  meterStartWh: number | null;
  /** The last believable energy reading, and the one before it (the draw between them). */
  lastEnergy: { wh: number; atMs: number } | null;
  previousEnergy: { wh: number; atMs: number } | null;
  /** When the meter last said something believable (or the start): a meter silent too long counts as 0 kW. */
  lastReadingAtMs: number;
  samples: DrawSample[];
  /** The trace of the transaction's start: its later calls (profiles, stops) join it. */
  trace: SpanContext | null;
}
