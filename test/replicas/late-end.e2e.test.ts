/**
 * A substation ends a session when its timer fires: late when its event loop stalls (a loaded machine, as in
 * the chaos runs). Until then the vehicle still charges there, so the replicas must not book it elsewhere
 * because the session's expected end has passed. Substation-1's timers are held here (a manual scheduler),
 * which is that stall made deterministic.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import { eventually } from "@evgrid/testing";
import { sharedRedis, startReplicas } from "./replica-grid.ts";

setDefaultTimeout(60_000);

const shared = sharedRedis();

describe("a session that ends late at its substation", () => {
  test("the vehicle is not booked at another substation while its overdue session still runs", async () => {
    const late = manualScheduler();
    // 100 kW each: with the first session's 50 kW minimum at substation-1, substation-2 ranks first.
    await using grid = await startReplicas(2, shared.redis.url, {
      capacityKw: 100,
      substation1Scheduler: late,
    });
    const vehicleId = "ev-late-end";
    const ask = { vehicleId, maxKw: 60, minKw: 50 };
    const first = await grid
      .operator(0)
      .dispatch.mutate({ ...ask, durationS: 1, substationId: "substation-1" });
    expect(first.session.substationId).toBe("substation-1");
    const dueAtMs = Date.parse(first.session.expectedEndAt ?? "");

    // The session is overdue (its timer at substation-1 has not fired), and the store says what it will
    // say for a while: the vehicle's claim expired, or it outlives this moment by more than a second.
    await eventually(
      async () => {
        expect(Date.now()).toBeGreaterThan(dueAtMs);
        const ttlMs = await shared.store.pttl(`evgrid:vehicle:${vehicleId}`);
        expect(ttlMs === -2 || ttlMs > 1000).toBe(true);
      },
      { timeoutMs: 10_000 },
    );
    expect(grid.activeByVehicle().get(vehicleId)).toBe(1);

    // Through the other replica: asked at substation-1 (where it still charges), never at substation-2.
    const second = await grid
      .operator(1)
      .dispatch.mutate({ ...ask, durationS: 60 })
      .then(
        (r) => r.session.substationId,
        (err: unknown) => errorDataOf(err)?.reason,
      );
    console.log(`a new request while the overdue session runs: ${second}`);
    expect(second).toBe("VEHICLE_ALREADY_CHARGING");
    expect(grid.activeByVehicle().get(vehicleId)).toBe(1);

    // Once substation-1 ends it, the vehicle charges again (the home is a way to ask, not a lock-out).
    late.advance(2000);
    expect(grid.activeByVehicle().get(vehicleId)).toBeUndefined();
    const third = await grid.operator(1).dispatch.mutate({ ...ask, durationS: 60 });
    expect(third.session.status).toBe("active");
    expect(grid.activeByVehicle().get(vehicleId)).toBe(1);
  });
});
