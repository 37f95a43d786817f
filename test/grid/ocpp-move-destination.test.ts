/**
 * Following a booking claimed at a charger of another substation: its `moved` end keeps where it went, so its
 * owner's getSession and stopCharge ask that one substation, not every other one (with 128 substations that
 * was 127 calls per public call), and a destination that cannot answer says so instead of "not admitted yet".
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { errorDataOf } from "@evgrid/contract";
import { movedSessionId } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import type { RunningSubstation } from "@evgrid/substation/app";
import { startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

const KEY = "key-owner-aaaaaaaaaaaa";

/** Every session id this substation is asked about (getSession, stopSession: the station's `get`). */
function askedAt(substation: RunningSubstation | undefined): string[] {
  const station = substation?.station;
  if (!station) throw new Error("no such substation");
  const asked: string[] = [];
  const get = station.get.bind(station);
  station.get = (sessionId, owner) => {
    asked.push(sessionId);
    return get(sessionId, owner);
  };
  return asked;
}

/**
 * Four substations (50, 100, 20, 20 kW): the owner's booking lands on substation-2 and its car claims it at a
 * charger of substation-1, where it goes on (`here`). Substations 3 and 4 have nothing to do with it.
 */
async function movedBooking() {
  await using stack = new AsyncDisposableStack();
  const grid = stack.use(await startGrid({ capacitiesKw: [50, 100, 20, 20], chargeApi: { API_KEYS: KEY } }));
  const ocpp = stack.use(await startOcppGateway(grid));
  const owner = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 10_000, token: KEY });
  const booking = await owner.requestCharge.mutate({ vehicleId: "ev-owner", energyKwh: 20 });
  expect(booking.substationId).toBe("substation-2");
  const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
  await cp.startTransaction(1, booking.idTag);
  const here = await ocpp.txSession("cp-owner");
  const owned = stack.move();
  return { grid, owner, booking, here, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

describe("a booking that went on at another substation is followed there, and only there", () => {
  test("its owner's getSession and stopCharge ask the substation it went to; the others hear nothing", async () => {
    await using moved = await movedBooking();
    const { grid, owner, booking, here } = moved;
    expect(here).toBe(movedSessionId("substation-1", booking.sessionId));
    const others = [askedAt(grid.substations[2]), askedAt(grid.substations[3])];
    const there = askedAt(grid.substations[0]);

    const left = await owner.getSession.query({ sessionId: booking.sessionId });
    expect(left).toMatchObject({ endReason: "moved", movedTo: { sessionId: here } });
    // Where it went stays inside the grid: the owner is shown the session there, not the internal field.
    expect(Object.keys(left)).not.toContain("movedToSubstationId");
    const stopped = await owner.stopCharge.mutate({ sessionId: booking.sessionId });
    expect(stopped).toMatchObject({ sessionId: here, status: "ended", endReason: "stopped" });
    expect(Object.keys(stopped)).not.toContain("movedToSubstationId");

    expect(there).toContain(here);
    expect(others).toEqual([[], []]);
  });

  test("the substation it went to is down: its owner is told so (503), not that it is not admitted yet", async () => {
    await using moved = await movedBooking();
    const { grid, owner, booking } = moved;
    await grid.substations[0]?.stop();
    const read = await owner.getSession.query({ sessionId: booking.sessionId }).catch((e: unknown) => e);
    expect(errorDataOf(read)).toMatchObject({ httpStatus: 503, reason: "UPSTREAM_UNAVAILABLE" });
    // Nor is a stop answered "ended" while the car may charge on there.
    const stop = await owner.stopCharge.mutate({ sessionId: booking.sessionId }).catch((e: unknown) => e);
    expect(errorDataOf(stop)).toMatchObject({ httpStatus: 503, reason: "UPSTREAM_UNAVAILABLE" });
  });

  test("a move recorded without its destination (before it was kept) is still followed, by asking the others", async () => {
    const grid = await startGrid({ capacitiesKw: [50, 100, 20], chargeApi: { API_KEYS: KEY } });
    await using _grid = grid;
    const owner = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 10_000, token: KEY });
    const booking = await owner.requestCharge.mutate({ vehicleId: "ev-owner", energyKwh: 20 });
    expect(booking.substationId).toBe("substation-2");
    // What the gateway did before it said where: the release, then the session that goes on with it.
    await grid.operator.stopSession.mutate({ sessionId: booking.sessionId, reason: "moved" });
    const { session } = await grid.operator.dispatch.mutate({
      vehicleId: "ev-owner",
      energyKwh: 20,
      owner: (await grid.operator.getSession.query({ sessionId: booking.sessionId })).owner,
      substationId: "substation-3",
      movedFrom: booking.sessionId,
    });
    const left = await owner.getSession.query({ sessionId: booking.sessionId });
    expect(left.movedTo?.sessionId).toBe(session.sessionId);
  });

  test("the destination is checked where it enters: a substation id, another than the session's, with moved only", async () => {
    const grid = await startGrid({ capacitiesKw: [50] });
    await using _grid = grid;
    const { sessionId } = await grid.client.requestCharge.mutate({ vehicleId: "ev", durationS: 600 });
    for (const [reason, movedToSubstationId] of [
      ["moved", "Substation_2"],
      ["moved", "substation-1"],
      ["stopped", "substation-2"],
    ] as const) {
      const refused = await grid.operator.stopSession
        .mutate({ sessionId, reason, movedToSubstationId })
        .catch((e: unknown) => e);
      expect(errorDataOf(refused)).toMatchObject({
        reason: "INVALID_INPUT",
        fieldErrors: { movedToSubstationId: expect.any(Array) },
      });
    }
    expect((await grid.operator.getSession.query({ sessionId })).status).toBe("active");
  });
});
