/**
 * A booking claimed at a charger of another substation ends there `moved` before the session that goes on
 * with it is admitted here: from then on nothing finds the booking by its idTag. What the gateway knew of it
 * must survive what comes between: an answer lost, the gateway's own restart, a grid full here.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { walkInVehicleId } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { eventually, faultyProxy, freePort, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";

setDefaultTimeout(30_000);

type Grid = Awaited<ReturnType<typeof startGrid>>;

const KEY = "key-owner-aaaaaaaaaaaa";

/** A grid of two substations whose booking for `ev-owner` lands on substation-2, and its owner's API key. */
async function gridWithBooking(capacitiesKw: number[]) {
  const grid = await startGrid({ capacitiesKw, chargeApi: { API_KEYS: KEY } });
  const owner = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 10_000, token: KEY });
  const booking = await owner.requestCharge.mutate({ vehicleId: "ev-owner", energyKwh: 20 });
  expect(booking.substationId).toBe("substation-2");
  return { grid, owner, booking };
}

/** The grid's balancer behind a proxy (the gateway's calls to the grid go through it). */
const via = (grid: Grid, proxy: { url: string }) => ({
  balancer: { url: proxy.url },
  serviceToken: grid.serviceToken,
});

describe("a booking claimed at another substation's charger goes on, whatever comes between", () => {
  test("the gateway restarts while the car waits for room here: the session there is still the booking's", async () => {
    const { grid, owner, booking } = await gridWithBooking([5, 100]);
    await using _grid = grid;
    using dir = tempDir("h-revA-ocpp-moves-");
    // A gateway on a port of its own with its registry on disk: the next one, on the same port, resumes.
    const env = { OCPP_PORT: String(freePort()), OCPP_DB_PATH: join(dir.path, "gateway.sqlite") };
    const first = await startOcppGateway(grid, env);
    const filler = await first.charger("cp-filler", { substationId: "substation-1" });
    const cp = await first.charger("cp-owner", { substationId: "substation-1" });
    try {
      // substation-1 (5 kW) holds one 4.2 kW minimum: the booked car waits there, its booking released.
      await filler.startTransaction(1, "ev-filler");
      await first.txSession("cp-filler", "charging");
      await cp.startTransaction(1, booking.idTag);
      await first.txSession("cp-owner", "waiting");
      const left = await owner.getSession.query({ sessionId: booking.sessionId });
      expect(left).toMatchObject({ endReason: "moved", movedTo: null });
      await first.gateway.stop(); // the chargers stay, and reconnect to the next gateway

      await using again = await startOcppGateway(grid, env);
      await again.txSession("cp-filler", "charging");
      await filler.stopTransaction(1, 100); // room for the booked car
      const here = await again.txSession("cp-owner", "charging");
      // The booking's, as before the restart: its vehicle, its energy, its owner's (whose key reads it).
      expect(await owner.getSession.query({ sessionId: here })).toMatchObject({
        substationId: "substation-1",
        vehicleId: "ev-owner",
        energyKwh: 20,
        status: "active",
      });
      const moved = await owner.getSession.query({ sessionId: booking.sessionId });
      expect(moved.movedTo?.sessionId).toBe(here);
    } finally {
      await filler.close();
      await cp.close();
    }
  });

  test("its owner stops it while the car waits for room here: room comes, and the car is not admitted", async () => {
    const { grid, owner, booking } = await gridWithBooking([5, 100]);
    await using _grid = grid;
    await using ocpp = await startOcppGateway(grid);
    const filler = await ocpp.charger("cp-filler", { substationId: "substation-1" });
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    try {
      await filler.startTransaction(1, "ev-filler");
      await ocpp.txSession("cp-filler", "charging");
      const transactionId = await cp.startTransaction(1, booking.idTag);
      await ocpp.txSession("cp-owner", "waiting");
      // The owner's stop, while the booking is released there and not yet admitted here: it means the car.
      const stopped = await owner.stopCharge.mutate({ sessionId: booking.sessionId });
      expect(stopped).toMatchObject({ substationId: "substation-1", status: "ended", endReason: "stopped" });
      expect(stopped.deliveredKwh).toBe(0);
      await filler.stopTransaction(1, 100); // room for the booked car, which its owner stopped
      await eventually(() => expect(cp.stopsAsked).toEqual([transactionId]));
      expect(grid.substations[0]?.station.list("active", 10)).toEqual([]);
      // Its owner reads where it went: the session it would have gone on in, ended by the stop.
      const read = await owner.getSession.query({ sessionId: booking.sessionId });
      expect(read).toMatchObject({ endReason: "moved", movedTo: { sessionId: stopped.sessionId } });
    } finally {
      await filler.close();
      await cp.close();
    }
  });

  test("the answer to the booking's release is lost: released again, it goes on all the same", async () => {
    const { grid, owner, booking } = await gridWithBooking([50, 100]);
    await using _grid = grid;
    // The first stopSession is done by the grid, and its answer never comes back.
    const proxy = faultyProxy(
      grid.balancer.url,
      () => false,
      (p) => p === "stopSession" && proxy.calls("stopSession") === 1,
    );
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via(grid, proxy), { OCPP_CALL_TIMEOUT_MS: "300" });
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    await cp.startTransaction(1, booking.idTag);
    const here = await ocpp.txSession("cp-owner", "charging");
    expect(await owner.getSession.query({ sessionId: here })).toMatchObject({
      vehicleId: "ev-owner",
      energyKwh: 20,
      status: "active",
    });
    expect((await owner.getSession.query({ sessionId: booking.sessionId })).movedTo?.sessionId).toBe(here);
  });

  test("its owner stopped it before the gateway could release it: the car is a walk-in, nothing goes on", async () => {
    const { grid, owner, booking } = await gridWithBooking([50, 100]);
    await using _grid = grid;
    const broken = { on: true };
    const proxy = faultyProxy(grid.balancer.url, (p) => broken.on && p === "stopSession");
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via(grid, proxy), { OCPP_CALL_TIMEOUT_MS: "300" });
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    await cp.startTransaction(1, booking.idTag);
    // Found, and being released (the release does not get through yet) when its owner stops it.
    await eventually(() => expect(proxy.calls("stopSession")).toBeGreaterThanOrEqual(1));
    expect(await owner.stopCharge.mutate({ sessionId: booking.sessionId })).toMatchObject({
      endReason: "stopped",
    });
    broken.on = false;
    const here = await ocpp.txSession("cp-owner", "charging");
    expect(await grid.operator.getSession.query({ sessionId: here })).toMatchObject({
      vehicleId: walkInVehicleId(booking.idTag),
      owner: "operator",
    });
    const stopped = await owner.getSession.query({ sessionId: booking.sessionId });
    expect(stopped).toMatchObject({ endReason: "stopped", movedTo: null });
  });

  test("the grid refuses its release as unreadable: asked once, the charger asked to stop, the booking left as it was", async () => {
    const { grid, owner, booking } = await gridWithBooking([50, 100]);
    await using _grid = grid;
    // Every stopSession reaches the balancer unreadable, as from a gateway whose contract it does not share.
    const proxy = faultyProxy(
      grid.balancer.url,
      () => false,
      () => false,
      (p) => p === "stopSession",
    );
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via(grid, proxy));
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    const transactionId = await cp.startTransaction(1, booking.idTag);
    // Not retried for ever at 0 W: the charger is asked to stop, and stops (the end that follows the refusal).
    await eventually(() => expect(cp.stopsAsked).toEqual([transactionId]));
    await eventually(async () => {
      const charger = (await ocpp.admin.listChargePoints.query()).find((c) => c.chargePointId === "cp-owner");
      expect(charger?.transactions).toEqual([]);
    });
    expect(proxy.calls("stopSession")).toBe(1);
    // The booking still holds its power where it was made, and the car was not admitted here besides.
    expect(await owner.getSession.query({ sessionId: booking.sessionId })).toMatchObject({
      status: "active",
      endReason: null,
    });
    expect(grid.substations[0]?.station.list("active", 10)).toEqual([]);
  });
});
