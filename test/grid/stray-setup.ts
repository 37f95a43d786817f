/** A charger drawing on a connector with no open transaction, as the stray-draw tests drive and read it. */
import { expect } from "bun:test";
import {
  eventually,
  metricValue,
  type SimulatedChargePoint,
  type startGrid,
  type startOcppGateway,
} from "@evgrid/testing";

export type Ocpp = Awaited<ReturnType<typeof startOcppGateway>>;

/** The over-draw window the tests judge on (OCPP_OVERDRAW_S). */
export const FAST = { OCPP_OVERDRAW_S: "0.3" };

export const overdraws = async (ocpp: Ocpp) =>
  metricValue(await (await fetch(`${ocpp.gateway.url}/metrics`)).text(), "evgrid_ocpp_overdraws_total") ?? 0;

export const listed = async (ocpp: Ocpp, id: string) =>
  (await ocpp.admin.listChargePoints.query()).find((c) => c.chargePointId === id);

/** 1.6 MeterValues on a connector (1 unless said; naming a transaction, or none): power only. */
export const drawing = (cp: SimulatedChargePoint, powerW: number, transactionId?: number, connectorId = 1) =>
  cp.client.call("MeterValues", {
    connectorId,
    ...(transactionId === undefined ? {} : { transactionId }),
    meterValue: [
      {
        timestamp: new Date().toISOString(),
        sampledValue: [{ value: String(powerW), measurand: "Power.Active.Import", unit: "W" }],
      },
    ],
  });

/** It reports 22 kW, reading after reading, until the gateway has caught it. */
export async function drawsUntilCaught(
  ocpp: Ocpp,
  id: string,
  cp: SimulatedChargePoint,
  transactionId?: number,
  caughtBefore = 0,
) {
  await eventually(
    async () => {
      await drawing(cp, 22_000, transactionId);
      expect(await overdraws(ocpp)).toBe(caughtBefore + 1);
    },
    { intervalMs: 100 },
  );
  const entry = await listed(ocpp, id);
  expect({ managed: entry?.managed, caught: entry?.overdrawnAt != null }).toEqual({
    managed: false,
    caught: true,
  });
}

type Grid = Awaited<ReturnType<typeof startGrid>>;
type Station = NonNullable<Grid["substations"][number]>["station"];

/** Every hold the gateway asks of the station from now on (kW). */
export function holdsAsked(station: Station | undefined): number[] {
  if (!station) throw new Error("no substation");
  const asked: number[] = [];
  const setDrawHold = station.setDrawHold.bind(station);
  station.setDrawHold = (source, kw) => {
    asked.push(kw);
    return setDrawHold(source, kw);
  };
  return asked;
}

/** The limits a charger accepted since `from` (W). */
export const acceptedSince = (cp: SimulatedChargePoint, from: number) =>
  cp.profiles.slice(from).map((p) => p.watts);
/** What the first substation holds for draws with no session, and its capacity in force then (kW). */
export const held = (grid: Grid) => {
  const load = grid.substations[0]?.station.load();
  return { heldDrawKw: load?.heldDrawKw, effectiveCapacityKw: load?.effectiveCapacityKw };
};
