import { describe, expect, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { errorDataOf, type SubstationLoad } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { startGrid } from "@evgrid/testing";

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    const data = errorDataOf(err);
    if (data) return data;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("charge-api -> balancer -> substation over HTTP", () => {
  test("a request becomes a session on a substation, findable and stoppable by its id alone", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-42", maxKw: 22, durationS: 60 });
    expect(grant).toMatchObject({ vehicleId: "ev-42", maxKw: 22, minKw: 4.2, allocatedKw: 22, tries: 1 });
    expect(grant.sessionId.startsWith(`${grant.substationId}.`)).toBe(true);

    // The owning substation really holds it.
    const owner = grid.substations.find((s) => s.station.id === grant.substationId);
    expect(owner?.station.load()).toMatchObject({ activeSessions: 1, allocatedKw: 22 });

    // Open mode: the id and the secret handed to whoever started the session.
    const ref = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
    expect(await grid.client.getSession.query(ref)).toMatchObject({ status: "active" });
    const stopped = await grid.client.stopCharge.mutate(ref);
    expect(stopped).toMatchObject({ status: "ended", endReason: "stopped" });
    expect(owner?.station.load()).toMatchObject({ activeSessions: 0, allocatedKw: 0 });
  });

  test("stopping a session frees its power for the next vehicle at once", async () => {
    await using grid = await startGrid({ capacitiesKw: [8.4] });
    const a = await grid.client.requestCharge.mutate({ vehicleId: "a", durationS: 60 });
    await grid.client.requestCharge.mutate({ vehicleId: "b", durationS: 60 });
    expect((await failure(grid.client.requestCharge.mutate({ vehicleId: "c", durationS: 60 }))).reason).toBe(
      "GRID_FULL",
    );
    await grid.client.stopCharge.mutate({ sessionId: a.sessionId, sessionSecret: a.sessionSecret });
    const c = await grid.client.requestCharge.mutate({ vehicleId: "c", durationS: 60 });
    expect(c.allocatedKw).toBeCloseTo(4.2, 9);
  });

  test("grid full is TOO_MANY_REQUESTS / GRID_FULL with each substation's reason", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2, 4.2] });
    await grid.client.requestCharge.mutate({ vehicleId: "a", durationS: 60 });
    await grid.client.requestCharge.mutate({ vehicleId: "b", durationS: 60 });
    const data = await failure(grid.client.requestCharge.mutate({ vehicleId: "c", durationS: 60 }));
    expect(data).toMatchObject({ code: "TOO_MANY_REQUESTS", httpStatus: 429, reason: "GRID_FULL" });
    const perSubstation = (
      (data.details?.substations ?? []) as { substationId: string; reason: string }[]
    ).toSorted((x, y) => x.substationId.localeCompare(y.substationId));
    expect(perSubstation).toEqual([
      expect.objectContaining({ substationId: "substation-1", reason: "INSUFFICIENT_CAPACITY" }),
      expect.objectContaining({ substationId: "substation-2", reason: "INSUFFICIENT_CAPACITY" }),
    ]);
  });

  test("a refusal the balancer did not foresee (stale view) is skipped and the next substation tried", async () => {
    // A minute between refreshes: the balancer only learns from its own calls.
    await using grid = await startGrid({ capacitiesKw: [100, 50], balancer: { LOAD_REFRESH_MS: "60000" } });
    // Someone fills substation-1 behind the balancer's back.
    const direct = internalClient<SubstationRouter>(grid.substations[0]?.url ?? "", {
      timeoutMs: 2000,
      token: grid.serviceToken,
    });
    for (let i = 0; i < 23; i++) await direct.startSession.mutate({ vehicleId: `x${i}`, durationS: 60 });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev", durationS: 60 });
    expect(grant).toMatchObject({ substationId: "substation-2", tries: 2 });
    // And the refusal taught the balancer substation-1's real load.
    const status = await grid.client.gridStatus.query();
    expect(status.substations[0]?.load?.activeSessions).toBe(23);
  });

  test("with every substation down the answer is SERVICE_UNAVAILABLE (refused, not left to time out)", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    for (const s of grid.substations) await s.stop();
    const data = await failure(grid.client.requestCharge.mutate({ vehicleId: "ev" }));
    expect(data).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      httpStatus: 503,
      reason: "NO_SUBSTATION_AVAILABLE",
    });
  });

  test("session ids from unknown substations are NOT_FOUND / UNKNOWN_SUBSTATION", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    // Operators (the service token) may look up any id; the public needs the session's secret first.
    const operator = internalClient<ChargeApiRouter>(grid.api.url, {
      timeoutMs: 5000,
      token: grid.serviceToken,
    });
    const data = await failure(operator.getSession.query({ sessionId: `elsewhere.${"a".repeat(32)}` }));
    expect(data).toMatchObject({ code: "NOT_FOUND", reason: "UNKNOWN_SUBSTATION" });
    const missing = await failure(
      operator.stopCharge.mutate({ sessionId: `substation-1.${"a".repeat(32)}` }),
    );
    expect(missing).toMatchObject({ code: "NOT_FOUND", reason: "SESSION_NOT_FOUND" });
  });

  test("gridStatus shows every substation's load and grid totals", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 50] });
    await grid.client.requestCharge.mutate({ vehicleId: "ev", durationS: 60 });
    const status = await grid.client.gridStatus.query();
    expect(status.totals).toMatchObject({
      substations: 2,
      healthy: 2,
      effectiveCapacityKw: 200,
      activeSessions: 1,
    });
    const loads = status.substations.map((s) => s.load as SubstationLoad);
    expect(loads.map((l) => l.substationId).toSorted()).toEqual(["substation-1", "substation-2"]);
  });
});
