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
  const departAtMs = departureTime === undefined ? Number.NaN : Date.parse(departureTime);
  if (departAtMs > nowMs && departAtMs - nowMs <= MAX_DEPART_IN_S * 1000) needs.departAtMs = departAtMs;
  const maxW = dc
    ? (dc.evMaxPower ?? dc.evMaxCurrent * dc.evMaxVoltage)
    : ac
      ? // Three phases: by phase voltage (230 V) or, if it reads like one, by line voltage (400 V).
        ac.evMaxCurrent * ac.evMaxVoltage * (ac.evMaxVoltage > 300 ? Math.sqrt(3) : 3)
      : undefined;
  if (maxW !== undefined && maxW > 0)
    needs.maxKw = Math.min(MAX_SESSION_KW, Math.max(MIN_SESSION_KW, maxW / 1000));
  return needs;
}
