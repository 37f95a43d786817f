/**
 * Issue 17, finding 4: every energy session at a charger has a time bound, meter readings are checked for
 * sanity (a register only grows, and no faster than the connector's maximum; meterStart must be a meter's),
 * implausible ones are ignored and counted, and a meter silent too long counts as drawing nothing.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, metricValue, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

type Ocpp = Awaited<ReturnType<typeof startOcppGateway>>;
const implausible = async (ocpp: Ocpp, reason: string) =>
  metricValue(
    await (await fetch(`${ocpp.gateway.url}/metrics`)).text(),
    "evgrid_ocpp_meter_implausible_total",
    {
      reason,
    },
  ) ?? 0;

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s", (protocol) => {
  test("an energy session whose meter stops advancing still ends at its time bound (OCPP_WALKIN_MAX_S)", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await using ocpp = await startOcppGateway(grid, { OCPP_WALKIN_MAX_S: "2" });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-stuck", energyKwh: 50 });
    const access = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
    const cp = await ocpp.charger("cp-stuck", { protocol });
    await cp.startTransaction(1, grant.idTag, 1000);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));
    await cp.meter(1, { energyWh: 1001 }); // from now on the meter decides the energy, and it never moves
    await eventually(async () => expect((await grid.client.getSession.query(access)).status).toBe("ended"), {
      timeoutMs: 10_000,
    });
    await eventually(() => expect(cp.stopsAsked.length).toBe(1));
  });

  test("readings that run backwards or faster than the connector could deliver are ignored and counted", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await using ocpp = await startOcppGateway(grid);
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-liar", energyKwh: 2 });
    const access = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
    const cp = await ocpp.charger("cp-liar", { protocol });
    await cp.startTransaction(1, grant.idTag, 10_000);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));
    await cp.meter(1, { energyWh: 10_500 });
    await eventually(async () =>
      expect((await grid.client.getSession.query(access)).deliveredKwh).toBeCloseTo(0.5, 3),
    );

    await cp.meter(1, { energyWh: 9_000 }); // backwards
    await cp.meter(1, { energyWh: 10_000_000 }); // 10 MWh in a moment, on an 11 kW connector
    await cp.meter(1, { powerW: 1_000_000 }); // 1 MW drawn
    await eventually(async () => {
      expect(await implausible(ocpp, "backwards")).toBe(1);
      expect(await implausible(ocpp, "too_fast")).toBe(1);
      expect(await implausible(ocpp, "power")).toBe(1);
    });
    // None of them counted: the 2 kWh session has 0.5 kWh and goes on.
    await cp.meter(1, { energyWh: 10_600 });
    await eventually(async () =>
      expect((await grid.client.getSession.query(access)).deliveredKwh).toBeCloseTo(0.6, 3),
    );
    expect((await grid.client.getSession.query(access)).status).toBe("active");
  });
});

test("a meterStart no meter could have is not believed: the first reading is the start", async () => {
  await using grid = await startGrid({ capacitiesKw: [50] });
  await using ocpp = await startOcppGateway(grid);
  const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-start", energyKwh: 2 });
  const access = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
  const cp = await ocpp.charger("cp-start");
  await cp.startTransaction(1, grant.idTag, -1_000_000);
  await eventually(() => expect(cp.limit(1)).toBe(11_000));
  expect(await implausible(ocpp, "meter_start")).toBe(1);
  await cp.meter(1, { energyWh: 5_000 }); // against -1 MWh this would be 1,005 kWh delivered at once
  await cp.meter(1, { energyWh: 5_400 });
  await eventually(async () =>
    expect((await grid.client.getSession.query(access)).deliveredKwh).toBeCloseTo(0.4, 3),
  );
  expect((await grid.client.getSession.query(access)).status).toBe("active");
});

test("a meter silent past OCPP_METER_SILENT_S counts as drawing nothing: reclaim caps it, a reading lifts it", async () => {
  await using grid = await startGrid({ capacitiesKw: [22] });
  await using ocpp = await startOcppGateway(grid, { OCPP_METER_SILENT_S: "1", OCPP_RECLAIM_WINDOW_S: "0.5" });
  const cp = await ocpp.charger("cp-quiet", { maxKw: 11 });
  await cp.startTransaction(1, "ev-quiet");
  await eventually(() => expect(cp.limit(1)).toBe(11_000));
  // Not a single MeterValues: capped at the walk-in minimum, the rest free for others.
  await eventually(() => expect(cp.limit(1)).toBe(4200), { timeoutMs: 10_000 });
  const [listed] = await ocpp.admin.listChargePoints.query();
  expect(listed?.transactions[0]).toMatchObject({ capKw: 4.2, state: "charging" });
  const lifted = cp.nextProfile(1, (w) => w === 11_000, 5000);
  await cp.meter(1, { powerW: 4200 }); // it draws all it is given: the cap goes
  await lifted;
});
