/**
 * Issue 22, from the charger: a 2.0.1 car's NotifyEVChargingNeeds (ISO 15118) feeds its session's energy and
 * departure, so a car leaving soon gets more power than its neighbour staying long; its own maximum caps it.
 * A 1.6 charger's session takes its departure from the booking made through the public API.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { eventually, freePort, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";

setDefaultTimeout(30_000);

const inH = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
/** Within a watt of (the gateway rounds down; the clock runs between the hops). */
const near = (expectedW: number) => (w: number | undefined) =>
  expect(Math.abs((w ?? 0) - expectedW)).toBeLessThanOrEqual(expectedW * 0.01);

describe("charging needs from the charger", () => {
  test("2.0.1: the car leaving in 1 h gets more than its neighbour leaving in 8 h; its own maximum caps it", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid);
    const soon = await ocpp.charger("cp-soon", { protocol: "ocpp2.0.1", maxKw: 22 });
    const late = await ocpp.charger("cp-late", { protocol: "ocpp2.0.1", maxKw: 22 });
    await soon.startTransaction(1, "ev-soon");
    await late.startTransaction(1, "ev-late");
    // Two walk-ins (vehicles "ocpp:<idTag>") of up to 22 kW on 30 kW: 15 kW each, as today.
    await eventually(() => expect([soon.limit(1), late.limit(1)]).toEqual([15_000, 15_000]));

    expect(await soon.notifyEVChargingNeeds(1, { energyWh: 20_000, departureTime: inH(1) })).toBe("Accepted");
    expect(await late.notifyEVChargingNeeds(1, { energyWh: 20_000, departureTime: inH(8) })).toBe("Accepted");
    // Above the 4.2 kW minimums 30 - 8.4 = 21.6 kW. 20 kWh in 1 h at up to 22 kW leaves 327 s of slack, so
    // the earliest departure is front-loaded to its 22 kW maximum; the one staying 8 h has the rest,
    // 4.2 + 3.8 = 8 kW (2.5 kW would do).
    await eventually(() => {
      near(22_000)(soon.limit(1));
      near(8_000)(late.limit(1));
    });
    const session = await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-soon" });
    expect(session).toMatchObject({ energyKwh: 20, durationS: null, onTrack: true });
    await eventually(async () =>
      expect(await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-late" })).toMatchObject({
        energyKwh: 20,
        allocatedKw: expect.closeTo(8, 6),
        onTrack: true, // 8 kW for 8 h
      }),
    );

    // The car can take 16 A on three phases (11.04 kW) only: 20 kWh in 1 h is out of its reach, so it is
    // served first, at its 11.04 kW maximum; its neighbour, with slack, has the rest (30 - 11.04 = 18.96).
    await soon.notifyEVChargingNeeds(1, { energyWh: 20_000, departureTime: inH(1), evMaxCurrentA: 16 });
    await eventually(() => {
      near(11_040)(soon.limit(1));
      near(18_960)(late.limit(1));
    });
    const capped = await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-soon" });
    expect(capped).toMatchObject({ capKw: expect.closeTo(11.04, 6), onTrack: false });
  });

  test("2.0.1: a timed walk-in its car's needs make energy-based still ends at its time bound (OCPP_WALKIN_MAX_S)", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    // 6 s: each car's needs reach its substation well within it on a loaded machine (3 s was tight).
    await using ocpp = await startOcppGateway(grid, { OCPP_WALKIN_MAX_S: "6" });
    // One car asks energy only, the other energy by a departure six days away: neither ends by its time now.
    const needs = {
      "ev-energy": { energyWh: 50_000 },
      "ev-far": { energyWh: 50_000, departureTime: inH(144) },
    };
    for (const [vehicleId, asked] of Object.entries(needs)) {
      const cp = await ocpp.charger(`cp-${vehicleId}`, { protocol: "ocpp2.0.1", maxKw: 22 });
      await cp.startTransaction(1, vehicleId);
      await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
      expect(await cp.notifyEVChargingNeeds(1, asked)).toBe("Accepted");
      // Taken while the walk-in still charges: it is energy-based now, its time no longer ends it.
      await eventually(async () =>
        expect(
          await grid.operator.findVehicleSession.query({ vehicleId: `ocpp:${vehicleId}` }),
        ).toMatchObject({ status: "active", energyKwh: 50, durationS: null }),
      );
    }
    for (const cp of ocpp.chargers) {
      await eventually(() => expect(cp.stopsAsked.length).toBe(1), { timeoutMs: 20_000 });
    }
    for (const vehicleId of Object.keys(needs)) {
      const session = await grid.operator.findVehicleSession.query({ vehicleId: `ocpp:${vehicleId}` });
      expect(session).toBeNull();
    }
  });

  test("2.0.1: needs a car sends while its transaction waits for power are taken once it is admitted", async () => {
    // Room for one 4.2 kW minimum: the second car waits at 0 W.
    await using grid = await startGrid({ capacitiesKw: [6] });
    await using ocpp = await startOcppGateway(grid);
    const first = await ocpp.charger("cp-first", { protocol: "ocpp2.0.1", maxKw: 22 });
    const next = await ocpp.charger("cp-next", { protocol: "ocpp2.0.1", maxKw: 22 });
    await first.startTransaction(1, "ev-first");
    await eventually(() => expect(first.limit(1)).toBe(6000));
    await next.startTransaction(1, "ev-next");
    await eventually(async () => {
      const [cp] = (await ocpp.admin.listChargePoints.query()).filter((c) => c.chargePointId === "cp-next");
      expect(cp?.transactions[0]?.state).toBe("waiting");
    });
    // A car says its needs once per negotiation: kept (Processing) rather than refused and lost.
    const departAt = inH(2);
    const asked = { energyWh: 12_000, departureTime: departAt, evMaxCurrentA: 8 };
    expect(await next.notifyEVChargingNeeds(1, asked)).toBe("Processing");
    await first.stopTransaction(1);
    await eventually(async () =>
      expect(await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-next" })).toMatchObject({
        energyKwh: 12,
        departAt: new Date(Date.parse(departAt)).toISOString(),
        capKw: expect.closeTo(5.52, 6), // 8 A on three phases at 230 V
      }),
    );
  });

  test("2.0.1: a departure sent alone goes with the energy last asked for; with none asked, it is refused", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-dc", { protocol: "ocpp2.0.1", maxKw: 22 });
    await cp.startTransaction(1, "ev-dc");
    await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
    // Nothing asked yet: a departure has no energy to go with.
    expect(await cp.notifyEVChargingNeeds(1, { departureTime: inH(2) })).toBe("Rejected");
    expect(await cp.notifyEVChargingNeeds(1, { energyWh: 20_000, departureTime: inH(1) })).toBe("Accepted");
    const later = inH(8);
    expect(await cp.notifyEVChargingNeeds(1, { departureTime: later })).toBe("Accepted");
    await eventually(async () =>
      expect(await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-dc" })).toMatchObject({
        energyKwh: 20,
        departAt: new Date(Date.parse(later)).toISOString(),
      }),
    );
  });

  test("2.0.1: a departure sent alone for a booking goes with the booking's energy", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid);
    const grant = await grid.client.requestCharge.mutate({
      vehicleId: "ev-booked-dc",
      maxKw: 22,
      energyKwh: 15,
    });
    const cp = await ocpp.charger("cp-booked-dc", { protocol: "ocpp2.0.1", maxKw: 22 });
    await cp.startTransaction(1, grant.idTag);
    await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
    const leaves = inH(3);
    expect(await cp.notifyEVChargingNeeds(1, { departureTime: leaves })).toBe("Accepted");
    await eventually(async () =>
      expect(await grid.operator.findVehicleSession.query({ vehicleId: "ev-booked-dc" })).toMatchObject({
        energyKwh: 15,
        departAt: new Date(Date.parse(leaves)).toISOString(),
      }),
    );
  });

  test("2.0.1: after a gateway restart, a departure sent alone goes with the energy its car asked before", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    using dir = tempDir("evgrid-ocpp-needs-restart-");
    // A gateway on a port of its own with its registry on disk: the next one, on the same port, resumes.
    const env = { OCPP_PORT: String(freePort()), OCPP_DB_PATH: join(dir.path, "gateway.sqlite") };
    const first = await startOcppGateway(grid, env);
    const cp = await first.charger("cp-restart-dc", { protocol: "ocpp2.0.1", maxKw: 22 });
    try {
      await cp.startTransaction(1, "ev-restart-dc");
      await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
      expect(await cp.notifyEVChargingNeeds(1, { energyWh: 15_000, departureTime: inH(8) })).toBe("Accepted");
      const session = () => grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-restart-dc" });
      await eventually(async () => expect(await session()).toMatchObject({ energyKwh: 15 }));
      await first.gateway.stop(); // the charger stays, and reconnects to the next gateway

      const resent = cp.nextProfile(1, (w) => w > 0, 15_000);
      await using _again = await startOcppGateway(grid, env);
      await resent; // its transaction resumed, bound to the same session
      const leaves = inH(3);
      expect(await cp.notifyEVChargingNeeds(1, { departureTime: leaves })).toBe("Accepted");
      await eventually(async () =>
        expect(await session()).toMatchObject({
          energyKwh: 15,
          departAt: new Date(Date.parse(leaves)).toISOString(),
        }),
      );
    } finally {
      await cp.close();
    }
  });

  test("2.0.1: a car that can take less than its session's minimum holds no more than it can take", async () => {
    await using grid = await startGrid({ capacitiesKw: [10] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-weak", { protocol: "ocpp2.0.1", maxKw: 11 });
    await cp.startTransaction(1, "ev-weak");
    await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
    // 1 A on three phases: 0.69 kW, the least a session may have (1 kW) then; its minimum was 4.2 kW.
    const needs = { energyWh: 3000, departureTime: inH(1), evMaxCurrentA: 1 };
    expect(await cp.notifyEVChargingNeeds(1, needs)).toBe("Accepted");
    await eventually(async () => {
      const session = await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-weak" });
      // 1 kW for 1 h: 1 of its 3 kWh, and it says so.
      expect(session).toMatchObject({ allocatedKw: expect.closeTo(1, 6), onTrack: false, minKw: 4.2 });
      const [site] = await grid.operator.listSubstations.query();
      // The 3.2 kW it cannot take go to others' shares; admission keeps its room (a restart curtails no one).
      expect(site?.load).toMatchObject({ committedMinKw: 4.2, allocatedKw: expect.closeTo(1, 6) });
    });
    await eventually(() => expect(cp.limit(1)).toBe(1000));
  });

  test("2.0.1: on a charger that takes no limits, a car claiming a tiny maximum stays accounted at what it may draw", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-deaf", {
      protocol: "ocpp2.0.1",
      maxKw: 22,
      behaviour: { profileAnswer: "Rejected" },
    });
    await cp.startTransaction(1, "ev-deaf");
    const load = async () => (await grid.operator.listSubstations.query())[0]?.load;
    // Unmanaged: pinned at its 22 kW maximum, whatever the level.
    await eventually(async () => expect((await load())?.committedMinKw).toBeCloseTo(22, 6));
    // Its charger says the car takes 1 A (0.69 kW): nothing holds it to that, so the site's books keep its
    // 22 kW (the others are not handed power it may still draw). Its energy is taken (after the cap, same link).
    expect(await cp.notifyEVChargingNeeds(1, { energyWh: 20_000, evMaxCurrentA: 1 })).toBe("Accepted");
    const session = () => grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-deaf" });
    await eventually(async () => expect(await session()).toMatchObject({ energyKwh: 20 }));
    expect(await session()).toMatchObject({ capKw: null, allocatedKw: 22 });
    expect((await load())?.committedMinKw).toBeCloseTo(22, 6);
  });

  test("1.6: the departure comes from the booking made through the public API", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid);
    const grant = await grid.client.requestCharge.mutate({
      vehicleId: "ev-booked",
      maxKw: 22,
      energyKwh: 20,
      departAt: inH(1),
    });
    const booked = await ocpp.charger("cp-booked", { protocol: "ocpp1.6", maxKw: 22 });
    const walkIn = await ocpp.charger("cp-walk-in", { protocol: "ocpp1.6", maxKw: 22 });
    // The booking is claimed at the charger by its idTag (issue 17).
    await booked.startTransaction(1, grant.idTag);
    await walkIn.startTransaction(1, "ev-walk-in");
    // The booking (20 kWh in 1 h, with slack) at its 22 kW maximum; the walk-in without a departure has
    // the rest, 30 - 22 = 8 kW.
    await eventually(() => {
      near(22_000)(booked.limit(1));
      near(8_000)(walkIn.limit(1));
    });
  });

  test("1.6: a booking claimed at another substation's charger keeps its energy and departure there", async () => {
    // The booking goes to the site with the most headroom (substation-2); the charger is on substation-1.
    await using grid = await startGrid({ capacitiesKw: [30, 100] });
    await using ocpp = await startOcppGateway(grid);
    const departAt = new Date(Date.parse(inH(2))).toISOString();
    const grant = await grid.client.requestCharge.mutate({
      vehicleId: "ev-moved",
      maxKw: 22,
      energyKwh: 20,
      departAt,
    });
    expect(grant.substationId).toBe("substation-2");
    // No car anywhere yet, but its allocation integrates to "delivered" energy: no car got that.
    await eventually(async () => {
      const booked = await grid.operator.getSession.query({ sessionId: grant.sessionId });
      expect(booked.deliveredKwh).toBeGreaterThan(0.01);
    });
    const cp = await ocpp.charger("cp-moved", {
      protocol: "ocpp1.6",
      maxKw: 22,
      substationId: "substation-1",
    });
    await cp.startTransaction(1, grant.idTag);
    await eventually(async () => {
      const moved = await grid.operator.findVehicleSession.query({ vehicleId: "ev-moved" });
      expect(moved).toMatchObject({
        substationId: "substation-1",
        energyKwh: 20,
        departAt,
      });
    });
  });
});
