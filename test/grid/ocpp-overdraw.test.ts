/**
 * A charger that accepts its limits and draws more anyway (buggy, or hostile) is caught by its own meter
 * (OCPP_OVERDRAW_S): from then on it counts as taking no limits, whatever it answers. Found by a
 * hostile-charger probe: one drawing 11 kW under a 5.5 kW limit stayed managed, counted at its limit.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import {
  eventually,
  metricValue,
  type SimulatedChargePoint,
  startGrid,
  startOcppGateway,
} from "@evgrid/testing";

setDefaultTimeout(30_000);

type Ocpp = Awaited<ReturnType<typeof startOcppGateway>>;

const overdraws = async (ocpp: Ocpp) =>
  metricValue(await (await fetch(`${ocpp.gateway.url}/metrics`)).text(), "evgrid_ocpp_overdraws_total") ?? 0;

const listed = async (ocpp: Ocpp, chargePointId: string) =>
  (await ocpp.admin.listChargePoints.query()).find((c) => c.chargePointId === chargePointId);

/** The charger reports drawing `watts`, a reading per poll, until the gateway has caught it. */
async function drawUntilCaught(ocpp: Ocpp, cp: SimulatedChargePoint, watts: number): Promise<void> {
  await eventually(
    async () => {
      await cp.meter(1, { powerW: watts });
      expect(await overdraws(ocpp)).toBe(1);
    },
    { timeoutMs: 10_000 },
  );
}

// 0.3 s: a handful of readings, each a poll apart.
const FAST = { OCPP_OVERDRAW_S: "0.3" };

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s", (protocol) => {
  test("a charger drawing over its accepted limit is counted at its maximum from then on: the others make room", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(16);
    await using ocpp = await startOcppGateway(grid, FAST);
    const greedy = await ocpp.charger("cp-greedy", { protocol, maxKw: 11 });
    const honest = await ocpp.charger("cp-honest", { protocol, maxKw: 11 });
    await greedy.startTransaction(1, "ev-greedy");
    await honest.startTransaction(1, "ev-honest");
    await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([8000, 8000]));

    // Within its limit and the margin (8 kW + 10 % + 1 kW), and one reading over: nothing happens.
    await greedy.meter(1, { powerW: 9_700 });
    await greedy.meter(1, { powerW: 11_000 });
    await greedy.meter(1, { powerW: 8_000 });
    expect(await overdraws(ocpp)).toBe(0);

    await drawUntilCaught(ocpp, greedy, 11_000);
    // 16 kW = 11 kW (what the greedy one may draw) + 5 kW: the honest one comes down.
    await eventually(() => expect(honest.limit(1)).toBe(5000));
    expect(await listed(ocpp, "cp-greedy")).toMatchObject({ managed: false });
    const session = await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-greedy") });
    expect(session?.allocatedKw).toBe(11);
    const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
    expect(metricValue(metrics, "evgrid_ocpp_unmanaged_chargers")).toBe(1);

    // It goes on accepting limits (its 11 kW, after the back-off): it is not believed any more.
    await greedy.nextProfile(1, (w) => w === 11_000, 10_000);
    await greedy.meter(1, { powerW: 11_000 });
    expect(await listed(ocpp, "cp-greedy")).toMatchObject({ managed: false });
    expect(honest.limit(1)).toBe(5000);
  });
});

test("a charger drawing over its limit whose maximum does not fit is stopped, and the others get its power", async () => {
  await using grid = await startGrid({ capacitiesKw: [150] });
  grid.substations[0]?.station.setLimit(12);
  await using ocpp = await startOcppGateway(grid, FAST);
  const greedy = await ocpp.charger("cp-greedy-full", { maxKw: 11 });
  const honest = await ocpp.charger("cp-honest-full", { maxKw: 11 });
  await greedy.startTransaction(1, "ev-greedy-full");
  await honest.startTransaction(1, "ev-honest-full");
  await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([6000, 6000]));

  // 11 kW beside the honest one's 4.2 kW minimum is more than 12 kW: it cannot be pinned, so it is stopped.
  await drawUntilCaught(ocpp, greedy, 11_000);
  await eventually(() => expect(greedy.stopsAsked).toHaveLength(1));
  expect(
    await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-greedy-full") }),
  ).toBeNull();
  await greedy.stopTransaction(1);
  await eventually(() => expect(honest.limit(1)).toBe(11_000));
  expect(honest.stopsAsked).toHaveLength(0);
});

test("a car waiting at 0 W that draws anyway is turned away", async () => {
  await using grid = await startGrid({ capacitiesKw: [150] });
  // Room for one walk-in's minimum (4.2 kW), not two: the second waits at 0 W.
  grid.substations[0]?.station.setLimit(5);
  await using ocpp = await startOcppGateway(grid, FAST);
  const first = await ocpp.charger("cp-first", { maxKw: 11 });
  const sneaky = await ocpp.charger("cp-sneaky", { maxKw: 11 });
  await first.startTransaction(1, "ev-first");
  await eventually(() => expect(first.limit(1)).toBe(5000));
  await sneaky.startTransaction(1, "ev-sneaky");
  await ocpp.txSession("cp-sneaky", "waiting");
  expect(sneaky.limit(1)).toBe(0);

  await drawUntilCaught(ocpp, sneaky, 7_000);
  await eventually(() => expect(sneaky.stopsAsked).toHaveLength(1));
  expect(await listed(ocpp, "cp-sneaky")).toMatchObject({ managed: false });
  expect(first.limit(1)).toBe(5000);
  expect(first.stopsAsked).toHaveLength(0);
});
