/**
 * A charger that accepts its limits and draws more anyway (buggy, or hostile) is caught by its own meter
 * (OCPP_OVERDRAW_S): from then on it counts as taking no limits, whatever it answers. Found by a
 * hostile-charger probe: one drawing 11 kW under a 5.5 kW limit stayed managed, counted at its limit.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { errorDataOf, walkInVehicleId } from "@evgrid/contract";
import {
  eventually,
  metricValue,
  type SimulatedChargePoint,
  startGrid,
  startOcppGateway,
  tempDir,
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
  // Until it reports its stop, its maximum is held at the substation (the first may be lowered to its
  // minimum meanwhile); then the first has its 5 kW again, and was never stopped.
  await eventually(() => expect(first.limit(1)).toBe(5000));
  expect(first.stopsAsked).toHaveLength(0);
});

/** One 1.6 MeterValues of the given sampled values (strings, as 1.6 sends them) for connector 1. */
const meterValues = (cp: SimulatedChargePoint, sampledValue: Record<string, string>[]) =>
  cp.client.call("MeterValues", {
    connectorId: 1,
    transactionId: Number(cp.transactions.get(1)),
    meterValue: [{ timestamp: new Date().toISOString(), sampledValue }],
  });

/** Two 22 kW chargers sharing 16 kW (8 kW each): one draws more. */
async function twoAt16(env: Record<string, string>) {
  const grid = await startGrid({ capacitiesKw: [150] });
  grid.substations[0]?.station.setLimit(16);
  const ocpp = await startOcppGateway(grid, env);
  const greedy = await ocpp.charger("cp-greedy-22", { maxKw: 22 });
  const honest = await ocpp.charger("cp-honest-22", { maxKw: 22 });
  await greedy.startTransaction(1, "ev-greedy-22");
  await honest.startTransaction(1, "ev-honest-22");
  await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([8000, 8000]));
  return {
    grid,
    ocpp,
    greedy,
    honest,
    async [Symbol.asyncDispose]() {
      await ocpp[Symbol.asyncDispose]();
      await grid[Symbol.asyncDispose]();
    },
  };
}

describe("ways round the check, found by a probe", () => {
  test("its register read more often than once a second, or its power said lower: the register catches it", async () => {
    // 20 Wh of register resolution: 22 kW under an 8 kW limit is 12 kW over, past 20 Wh in about 6 s.
    await using s = await twoAt16({ OCPP_OVERDRAW_S: "3600", OCPP_METER_SLACK_WH: "20" });
    const t0 = Date.now();
    await eventually(
      async () => {
        // Its true register at 22 kW, a reading every 0.1 s, each claiming 7 kW.
        await s.greedy.meter(1, { energyWh: Math.floor((22 * (Date.now() - t0)) / 3600), powerW: 7000 });
        expect(await overdraws(s.ocpp)).toBe(1);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // Its 22 kW do not fit beside the other's 4.2 kW minimum: stopped, and the other gets the site (held at
    // its substation while it was asked to stop, its end reported, released 5 s later: stray-holds.ts).
    await eventually(() => expect(s.greedy.stopsAsked).toHaveLength(1));
    await s.greedy.stopTransaction(1);
    await eventually(() => expect(s.honest.limit(1)).toBe(16_000), { timeoutMs: 15_000 });
  });

  test("its power per phase only (L1, L2, L3), no total: the lines are added up", async () => {
    await using s = await twoAt16(FAST);
    const line = (phase: string) => ({ value: "3700", measurand: "Power.Active.Import", unit: "W", phase });
    await eventually(
      async () => {
        await meterValues(s.greedy, [line("L1"), line("L2"), line("L3")]); // 11.1 kW under 8
        expect(await overdraws(s.ocpp)).toBe(1);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });

  test("a booking whose maximum is below its charger's: caught, it is stopped, not pinned below what it may draw", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const booking = await grid.client.requestCharge.mutate({ vehicleId: "ev-booked-11", durationS: 600 });
    expect(booking.maxKw).toBe(11);
    const greedy = await ocpp.charger("cp-greedy-booked", { maxKw: 22 });
    const honest = await ocpp.charger("cp-honest-booked", { maxKw: 22 });
    await greedy.startTransaction(1, booking.idTag);
    await ocpp.txSession("cp-greedy-booked");
    await honest.startTransaction(1, "ev-honest-booked");
    await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([11_000, 19_000]));
    await drawUntilCaught(ocpp, greedy, 22_000);
    await eventually(() => expect(greedy.stopsAsked).toHaveLength(1));
    const session = await grid.client.getSession.query({
      sessionId: booking.sessionId,
      sessionSecret: booking.sessionSecret,
    });
    expect(session.status).toBe("ended");
    expect(honest.stopsAsked).toHaveLength(0);
  });
});

describe("a catch is kept", () => {
  test("across the gateway's restart, shown to operators, until one clears it", async () => {
    using dir = tempDir("evgrid-ocpp-overdraw-");
    const env = { ...FAST, OCPP_DB_PATH: join(dir.path, "registry.sqlite") };
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(16);
    /** The two chargers on this gateway, each with a transaction: both at 8 kW while both are trusted. */
    const bothCharging = async (ocpp: Ocpp) => {
      const greedy = await ocpp.charger("cp-greedy-kept", { maxKw: 11 });
      const honest = await ocpp.charger("cp-honest-kept", { maxKw: 11 });
      await greedy.startTransaction(1, "ev-greedy-kept");
      await honest.startTransaction(1, "ev-honest-kept");
      return { greedy, honest };
    };
    {
      await using ocpp = await startOcppGateway(grid, env);
      const { greedy, honest } = await bothCharging(ocpp);
      await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([8000, 8000]));
      await drawUntilCaught(ocpp, greedy, 11_000);
      await eventually(() => expect(honest.limit(1)).toBe(5000));
      await greedy.stopTransaction(1);
      await honest.stopTransaction(1);
      for (const vehicle of ["ev-greedy-kept", "ev-honest-kept"]) {
        const vehicleId = walkInVehicleId(vehicle);
        await eventually(async () =>
          expect(await grid.operator.findVehicleSession.query({ vehicleId })).toBeNull(),
        );
      }
    }

    // A new gateway on the same registry: the charger is not believed from its first answer on, though it
    // was registered again (a new password) and accepts every limit.
    await using ocpp = await startOcppGateway(grid, env);
    const { greedy, honest } = await bothCharging(ocpp);
    await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([11_000, 5000]));
    const caught = await listed(ocpp, "cp-greedy-kept");
    expect(caught).toMatchObject({ managed: false });
    expect(Date.parse(caught?.overdrawnAt ?? "")).toBeGreaterThan(0);
    expect(await listed(ocpp, "cp-honest-kept")).toMatchObject({ managed: true, overdrawnAt: null });

    // An operator looked at it: trusted again, the two share the site again.
    expect(await ocpp.admin.clearOverdraw.mutate({ chargePointId: "cp-honest-kept" })).toEqual({
      chargePointId: "cp-honest-kept",
      cleared: false,
    });
    expect(await ocpp.admin.clearOverdraw.mutate({ chargePointId: "cp-greedy-kept" })).toMatchObject({
      cleared: true,
    });
    await eventually(() => expect([greedy.limit(1), honest.limit(1)]).toEqual([8000, 8000]));
    expect(await listed(ocpp, "cp-greedy-kept")).toMatchObject({ managed: true, overdrawnAt: null });
    const missing = await ocpp.admin.clearOverdraw.mutate({ chargePointId: "cp-nowhere" }).catch((e) => e);
    expect(errorDataOf(missing)).toMatchObject({ code: "NOT_FOUND", reason: "NOT_FOUND" });
  });
});
