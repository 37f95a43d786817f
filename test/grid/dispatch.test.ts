import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually, faultyProxy, startGrid } from "@evgrid/testing";

describe("dispatch when a substation hangs", () => {
  test("a start that times out is not retried elsewhere (no double booking) and fails typed within the deadline", async () => {
    // substation-1 (big, so it is chosen first) is behind a front that never answers startSession.
    await using inner = await startGrid({ capacitiesKw: [1000, 50] });
    // Answers getLoad, swallows startSession: accepted, never answered.
    using front = faultyProxy(inner.substations[0]?.url ?? "", (procedure) => procedure === "startSession");
    await using grid = await startGrid({
      capacitiesKw: [],
      serviceToken: inner.serviceToken,
      balancer: {
        SUBSTATION_URLS: `${front.url},${inner.substations[1]?.url}`,
        CALL_TIMEOUT_MS: "300",
        DISPATCH_DEADLINE_MS: "1000",
        // A failed substation is probed again after about one interval: 5 s keeps it out for the next request.
        LOAD_REFRESH_MS: "5000",
      },
    });
    // Both loads known before the first request (a first probe slower than 300 ms is tried again).
    await eventually(() => expect(grid.balancer.view.status().map((s) => s.healthy)).toEqual([true, true]), {
      timeoutMs: 20_000,
    });
    // Answered on the call's own timeout (the reason says so), not left to hang.
    const err = await grid.client.requestCharge
      .mutate({ vehicleId: "ev", durationS: 60 })
      .catch((e: unknown) => e);
    expect(errorDataOf(err)).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "SUBSTATION_TIMEOUT" });
    expect(front.calls("startSession")).toBe(1);
    // The other substation was not asked: the vehicle cannot end up with two sessions.
    expect(inner.substations[1]?.station.load().activeSessions).toBe(0);

    // The hanging one is out of rotation now, so the next vehicle goes straight to the healthy one.
    const next = await grid.client.requestCharge.mutate({ vehicleId: "ev-2", durationS: 60 });
    expect(next).toMatchObject({ substationId: "substation-2", tries: 1 });
  });

  test("listSubstations shows membership, each load and its age", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 50] });
    const status = await grid.operator.listSubstations.query();
    for (const s of status) {
      expect(s.healthy).toBe(true);
      expect(s.ageMs).toBeGreaterThanOrEqual(0);
      expect(s.load?.effectiveCapacityKw).toBe(s.substationId === "substation-1" ? 150 : 50);
    }
  });
});
