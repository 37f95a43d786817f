import { MAX_DEPART_IN_S, MAX_ENERGY_KWH, MAX_SESSION_KW, MIN_SESSION_KW } from "@evgrid/contract";
import type { EvNeeds } from "../model.ts";
import type * as M from "./v201-types.ts";

/**
 * A 2.0.1 NotifyEVChargingNeeds in the gateway's terms. A car is a hostile caller like any other: an energy
 * of 0, a departure in the past or beyond a week, a maximum outside what a session may have, are left out
 * (the session keeps what it had) rather than passed on to be refused.
 */
export function evNeedsOf(req: M.NotifyEVChargingNeedsRequest, nowMs: number): EvNeeds {
  const { acChargingParameters: ac, dcChargingParameters: dc, departureTime } = req.chargingNeeds;
  const needs: EvNeeds = { connectorId: req.evseId };
  const energyWh = dc?.energyAmount ?? ac?.energyAmount;
  if (energyWh !== undefined && energyWh > 0) needs.energyKwh = Math.min(MAX_ENERGY_KWH, energyWh / 1000);
  // A time without its zone is not a moment (Date.parse would read it in the gateway's own zone): left out.
  const departAtMs =
    departureTime === undefined || !ZONED.test(departureTime) ? Number.NaN : Date.parse(departureTime);
  if (departAtMs > nowMs && departAtMs - nowMs <= MAX_DEPART_IN_S * 1000) needs.departAtMs = departAtMs;
  const maxW = dc
    ? (dc.evMaxPower ?? watts(dc.evMaxCurrent, dc.evMaxVoltage))
    : ac
      ? // The current is per phase, on the phases the car asks for; its voltage is the phase voltage (230 V)
        // or, if it reads like one, the line voltage (400 V, √3 times the phase voltage).
        PHASES[req.chargingNeeds.requestedEnergyTransfer] *
        watts(ac.evMaxCurrent, ac.evMaxVoltage > 300 ? ac.evMaxVoltage / Math.sqrt(3) : ac.evMaxVoltage)
      : undefined;
  if (maxW !== undefined && maxW > 0)
    needs.maxKw = Math.min(MAX_SESSION_KW, Math.max(MIN_SESSION_KW, maxW / 1000));
  return needs;
}

/** An RFC 3339 date-time's end: its zone, `Z` or an offset. */
const ZONED = /(?:Z|[+-]\d{2}:\d{2})$/i;

/** Phases an AC transfer mode uses (DC with AC parameters: read as three phases, the most). */
const PHASES: Record<M.EnergyTransferModeEnumType, number> = {
  AC_single_phase: 1,
  AC_two_phase: 2,
  AC_three_phase: 3,
  DC: 3,
};

/** A current times a voltage, both of which must be positive (two negatives are no maximum either). */
const watts = (a: number, v: number): number => (a > 0 && v > 0 ? a * v : 0);
