/** The registry's rows: what the gateway keeps across restarts, and how its tables store it. */

export interface ChargePoint {
  chargePointId: string;
  substationId: string;
  maxKw: number;
  /** Its connectors (1.6) / EVSEs (2.0.1), numbered 1..connectors: any other id is refused. */
  connectors: number;
  /** Set once it has sent an accepted BootNotification: until then only BootNotification is served. */
  bootedAt: number | null;
  /**
   * When its meter first showed it drawing more than it accepted (overdraw.ts): from then it takes no limits,
   * across restarts, until an operator clears it (clearOverdraw). null: never, or cleared.
   */
  overdrawnAt: number | null;
}

/** A charger's transaction as the gateway keeps it across restarts. */
export interface TransactionRow {
  chargePointId: string;
  connectorId: number;
  transactionId: string;
  vehicleId: string | null;
  sessionId: string | null;
  /** null: not known yet (stored as -1). */
  meterStartWh: number | null;
  startedAt: number;
  endedAt: number | null;
  /** A booking claimed at another substation's charger, released there, not yet bound here (moves.ts). */
  claim: string | null;
}

export interface RawTx {
  charge_point_id: string;
  connector_id: number;
  transaction_id: string;
  vehicle_id: string | null;
  session_id: string | null;
  meter_start_wh: number;
  started_at: number;
  ended_at: number | null;
  claim: string | null;
}

export const SELECT_TX = `SELECT charge_point_id, connector_id, transaction_id, vehicle_id, session_id,
  meter_start_wh, started_at, ended_at, claim FROM transactions`;

export const toTx = (r: RawTx): TransactionRow => ({
  chargePointId: r.charge_point_id,
  connectorId: r.connector_id,
  transactionId: r.transaction_id,
  vehicleId: r.vehicle_id,
  sessionId: r.session_id,
  meterStartWh: r.meter_start_wh < 0 ? null : r.meter_start_wh,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  claim: r.claim,
});

export interface RawChargePoint {
  id: string;
  substation_id: string;
  max_kw: number;
  connectors: number;
  booted_at: number | null;
  overdrawn_at: number | null;
}

export const SELECT_CP =
  "SELECT id, substation_id, max_kw, connectors, booted_at, overdrawn_at FROM charge_points";

export const toChargePoint = (r: RawChargePoint): ChargePoint => ({
  chargePointId: r.id,
  substationId: r.substation_id,
  maxKw: r.max_kw,
  connectors: r.connectors,
  bootedAt: r.booted_at,
  overdrawnAt: r.overdrawn_at,
});
