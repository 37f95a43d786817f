/**
 * Issue 22: sessions that know when they leave, through a real grid (charge-api, balancer, substation). Of two
 * cars wanting the same energy, the one leaving soon gets more power; both make it when the site allows; with
 * no departures the shares are today's.
 */
import { describe, expect, setDefaultTimeout, setSystemTime, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { shareFairly } from "@evgrid/policy";
import { startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe("departures through the public API", () => {
  test("the car leaving in 1 h gets more than the one leaving in 8 h; both on track", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const ask = (vehicleId: string, departInS: number) =>
      grid.client.requestCharge.mutate({ vehicleId, maxKw: 22, energyKwh: 20, departInS });
    const early = await ask("ev-early", 3600);
    const late = await ask("ev-late", 8 * 3600);
    expect(Date.parse(early.departAt ?? "")).toBeGreaterThan(Date.now() + 3500_000);
    const now = async (g: typeof early) =>
      grid.client.getSession.query({ sessionId: g.sessionId, sessionSecret: g.sessionSecret });
    const [e, l] = [await now(early), await now(late)];
    // Above the 4.2 kW minimums 30 - 8.4 = 21.6 kW; both have slack (1 h - 20/22 h = 327 s), so the earliest
    // departure is front-loaded to its 22 kW maximum and the late one has the rest, 4.2 + 3.8 = 8 kW (64 kWh
    // in 8 h). Maximum and rest do not move with the clock between the hops.
    expect(e.allocatedKw).toBeCloseTo(22, 6);
    expect(l.allocatedKw).toBeCloseTo(8, 6);
    expect(e).toMatchObject({ onTrack: true, projectedKwh: expect.closeTo(20, 1) });
    expect(l).toMatchObject({ onTrack: true, projectedKwh: expect.closeTo(20, 1) });
  });

  test("a session ends at its energy or at its departure, whichever comes first, and says so", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    // 20 kWh in 10 min at 11 kW: not in time (at most 1.83 kWh), so it ends at its departure.
    const short = await grid.client.requestCharge.mutate({
      vehicleId: "ev-short",
      maxKw: 11,
      energyKwh: 20,
      departInS: 600,
    });
    expect(short.expectedEndAt).toBe(short.departAt as string);
    // 1 kWh by then at 11 kW: its energy first, about 5.5 min after it started.
    const small = await grid.client.requestCharge.mutate({
      vehicleId: "ev-small",
      maxKw: 11,
      energyKwh: 1,
      departInS: 600,
    });
    const endsInMs = Date.parse(small.expectedEndAt ?? "") - Date.parse(small.startedAt);
    expect(endsInMs).toBeGreaterThan(300_000);
    expect(endsInMs).toBeLessThan(Date.parse(small.departAt ?? "") - Date.parse(small.startedAt));
  });

  test("without departures the shares are exactly today's water-filling", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const a = await grid.client.requestCharge.mutate({ vehicleId: "ev-a", maxKw: 22, energyKwh: 20 });
    await grid.client.requestCharge.mutate({ vehicleId: "ev-b", maxKw: 11, energyKwh: 20 });
    const [share] = shareFairly(
      [
        { minKw: 4.2, maxKw: 22 },
        { minKw: 4.2, maxKw: 11 },
      ],
      30,
    );
    const got = await grid.client.getSession.query({
      sessionId: a.sessionId,
      sessionSecret: a.sessionSecret,
    });
    expect(got.allocatedKw).toBe(share as number);
    expect(got.onTrack ?? null).toBeNull();
  });

  test("strict energy its maximum cannot deliver in time: 400 DEPARTURE_UNREACHABLE with maxDeliverableKwh", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const refused = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-s", maxKw: 11, energyKwh: 50, departInS: 3600, strict: true })
      .catch((e) => e);
    expect(errorDataOf(refused)).toMatchObject({
      httpStatus: 400,
      reason: "DEPARTURE_UNREACHABLE",
      details: { field: "energyKwh", maxDeliverableKwh: expect.closeTo(11, 1) },
    });
    // Without strict it is admitted, says what it can deliver, and is not on track.
    const admitted = await grid.client.requestCharge.mutate({
      vehicleId: "ev-s",
      maxKw: 11,
      energyKwh: 50,
      departInS: 3600,
    });
    expect(admitted).toMatchObject({ onTrack: false, maxDeliverableKwh: expect.closeTo(11, 1) });
  });

  test("on a full grid too: strict and out of reach is DEPARTURE_UNREACHABLE, and a wait ends at the departure", async () => {
    await using grid = await startGrid({ capacitiesKw: [10] });
    await grid.client.requestCharge.mutate({ vehicleId: "ev-full", maxKw: 10, minKw: 10, durationS: 600 });
    const strict = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-s", maxKw: 11, energyKwh: 50, departInS: 60, strict: true })
      .catch((e) => e);
    expect(errorDataOf(strict)).toMatchObject({
      reason: "DEPARTURE_UNREACHABLE",
      details: { field: "energyKwh" },
    });
    // With the caller's own key too (then the grid is asked first: it may hold an earlier try's session).
    const keyed = await grid.client.requestCharge
      .mutate({
        vehicleId: "ev-k",
        maxKw: 11,
        energyKwh: 50,
        departInS: 60,
        strict: true,
        idempotencyKey: "k-1",
      })
      .catch((e) => e);
    expect(errorDataOf(keyed)).toMatchObject({ reason: "DEPARTURE_UNREACHABLE" });
    // Willing to wait 5 min for room, but leaving in 2 s: refused at its departure (a wait past it would
    // outlast the test), as any wait that runs out.
    const waited = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-w", energyKwh: 5, departInS: 2, waitS: 300 })
      .catch((e) => e);
    expect(errorDataOf(waited)).toMatchObject({ httpStatus: 429, reason: "GRID_FULL" });
  });

  test("a strict request's retry with its key gets its session back, even once its energy is out of reach", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    // 1.5 kWh at 11 kW takes 491 s: within reach of a departure 600 s away, whatever the hops take.
    const ask = { vehicleId: "ev-r", maxKw: 11, energyKwh: 1.5, strict: true, idempotencyKey: "r-1" };
    const first = await grid.client.requestCharge.mutate({ ...ask, departInS: 600 });
    const departAt = first.departAt as string;
    // The clock moves on (the grid runs in this process) to 300 s before the departure: 3.3 min of 11 kW
    // is 0.92 kWh, so those numbers are now out of reach, as another vehicle's request shows.
    setSystemTime(new Date(Date.parse(departAt) - 300_000));
    try {
      const stranger = await grid.client.requestCharge
        .mutate({ ...ask, vehicleId: "ev-s", idempotencyKey: "s-1", departAt })
        .catch((e) => e);
      expect(errorDataOf(stranger)).toMatchObject({ reason: "DEPARTURE_UNREACHABLE" });
      const retry = await grid.client.requestCharge.mutate({ ...ask, departAt });
      expect(retry).toMatchObject({ replayed: true, sessionId: first.sessionId });
    } finally {
      setSystemTime();
    }
  });

  test("a departure under a second away is refused where it is given, naming departInS", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const refused = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-b", energyKwh: 5, departInS: 0.001 })
      .catch((e) => e);
    expect(errorDataOf(refused)).toMatchObject({
      reason: "INVALID_INPUT",
      fieldErrors: { departInS: ["departInS must be at least 1 (second)"] },
    });
  });

  test("a departure in the past is refused as invalid input, naming the field", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const refused = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-p", energyKwh: 5, departAt: new Date(Date.now() - 60_000).toISOString() })
      .catch((e) => e);
    expect(errorDataOf(refused)).toMatchObject({
      reason: "INVALID_INPUT",
      fieldErrors: { departAt: expect.anything() },
    });
  });
});
