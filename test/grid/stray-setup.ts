/** A charger drawing on a connector with no open transaction, as the stray-draw tests drive and read it. */
import { expect } from "bun:test";
import {
  eventually,
  metricValue,
  SimulatedChargePoint,
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

/**
 * A 22 kW charger charging alone, then away past the offline grace (the gateway ends its transaction
 * itself), then back without a reboot: it may not know its transaction was ended. `OCPP_OFFLINE_GRACE_S`
 * must be short.
 */
export async function backAfterGrace(
  ocpp: Ocpp,
  id: string,
): Promise<{ back: SimulatedChargePoint; txId: number }> {
  const password = "a-password-of-16chars";
  await ocpp.admin.registerChargePoint.mutate({
    chargePointId: id,
    substationId: "substation-1",
    password,
    maxKw: 22,
  });
  const url = ocpp.gateway.ocppUrl;
  const cp = new SimulatedChargePoint({ url, id, password, protocol: "ocpp1.6", reconnect: false });
  ocpp.chargers.push(cp);
  await cp.connect();
  const txId = Number(await cp.startTransaction(1, `ev-${id}`));
  await eventually(() => expect(cp.limit(1)).toBe(22_000));
  await cp.close(); // away past the grace; it charges on at 22 kW
  await eventually(async () => expect((await listed(ocpp, id))?.transactions).toHaveLength(0));
  const back = new SimulatedChargePoint({ url, id, password, protocol: "ocpp1.6", reconnect: false });
  ocpp.chargers.push(back);
  await back.client.connect(); // back without a reboot
  return { back, txId };
}
