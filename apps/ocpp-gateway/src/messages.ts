/**
 * What differs between OCPP 1.6J and 2.0.1, in one place: reading meter values, and the payloads the gateway
 * sends. The library validates every message both ways against the official JSON schemas (strict mode), so
 * the shapes here are already known to be valid; this file only picks the fields the gateway needs.
 */
import type { OcppProtocol } from "./registry.ts";

export interface MeterReading {
  /** Energy.Active.Import.Register, in Wh (the meter's absolute register). */
  energyWh?: number;
  /** Power.Active.Import, in W: what the vehicle draws now. */
  powerW?: number;
}

interface SampledValue16 {
  value: string;
  measurand?: string;
  phase?: string;
  unit?: string;
}
interface SampledValue201 {
  value: number;
  measurand?: string;
  phase?: string;
  unitOfMeasure?: { unit?: string; multiplier?: number };
}
export interface MeterValue {
  timestamp: string;
  sampledValue: (SampledValue16 | SampledValue201)[];
}

const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";

/** The newest energy register and power of a list of meter values (totals only: per-phase values skipped). */
export function readMeter(values: readonly MeterValue[] | undefined): MeterReading {
  const out: MeterReading = {};
  for (const mv of values ?? []) {
    for (const sv of mv.sampledValue) {
      if (sv.phase !== undefined) continue;
      const measurand = sv.measurand ?? ENERGY;
      const { value, unit } = normalise(sv);
      if (!Number.isFinite(value)) continue;
      if (measurand === ENERGY) {
        if (unit === "Wh") out.energyWh = value;
        else if (unit === "kWh") out.energyWh = value * 1000;
      } else if (measurand === POWER) {
        if (unit === "W") out.powerW = value;
        else if (unit === "kW") out.powerW = value * 1000;
      }
    }
  }
  return out;
}

function normalise(sv: SampledValue16 | SampledValue201): { value: number; unit: string | undefined } {
  if (typeof sv.value === "string") {
    const s = sv as SampledValue16;
    return { value: Number(s.value), unit: s.unit ?? (s.measurand === POWER ? "W" : "Wh") };
  }
  const s = sv as SampledValue201;
  const scale = 10 ** (s.unitOfMeasure?.multiplier ?? 0);
  return { value: s.value * scale, unit: s.unitOfMeasure?.unit ?? (s.measurand === POWER ? "W" : "Wh") };
}

/** The charging profile id the gateway uses on a connector: each new limit replaces the previous one. */
const profileIdOf = (connectorId: number) => 1000 + connectorId;

/** SetChargingProfile: a TxProfile for the transaction, one period from its start, the limit in W. */
export function setProfileCall(
  protocol: OcppProtocol,
  connectorId: number,
  transactionId: string,
  watts: number,
): Record<string, unknown> {
  const period = [{ startPeriod: 0, limit: watts }];
  if (protocol === "ocpp1.6") {
    return {
      connectorId,
      csChargingProfiles: {
        chargingProfileId: profileIdOf(connectorId),
        transactionId: Number(transactionId),
        stackLevel: 0,
        chargingProfilePurpose: "TxProfile",
        chargingProfileKind: "Relative",
        chargingSchedule: { chargingRateUnit: "W", chargingSchedulePeriod: period },
      },
    };
  }
  return {
    evseId: connectorId,
    chargingProfile: {
      id: profileIdOf(connectorId),
      stackLevel: 0,
      chargingProfilePurpose: "TxProfile",
      chargingProfileKind: "Relative",
      transactionId,
      chargingSchedule: [
        { id: profileIdOf(connectorId), chargingRateUnit: "W", chargingSchedulePeriod: period },
      ],
    },
  };
}

/** RemoteStopTransaction (1.6) / RequestStopTransaction (2.0.1). */
export function stopCall(protocol: OcppProtocol, transactionId: string): [string, Record<string, unknown>] {
  return protocol === "ocpp1.6"
    ? ["RemoteStopTransaction", { transactionId: Number(transactionId) }]
    : ["RequestStopTransaction", { transactionId }];
}
