/**
 * A lone balancer (no REDIS_URL) keeps at most MEMORY_HOMES homes and drops the oldest, live ones too. A
 * vehicle whose home it dropped while it charges must still not get a second session elsewhere: the
 * substations are asked where it is.
 */
import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { startGrid } from "@evgrid/testing";

describe("the balancer's memory at its bound", () => {
  test("a charging vehicle whose home was dropped is sent to its own substation, never admitted at another", async () => {
    await using grid = await startGrid({
      capacitiesKw: [150, 150],
      // Two homes: each admission (its key and its vehicle) pushes out the ones before. No background
      // refresh during the test: a substation the test takes out of rotation stays out.
      balancer: { MEMORY_HOMES: "2", LOAD_REFRESH_MS: "60000" },
    });
    const v1 = await grid.client.requestCharge.mutate({ vehicleId: "ev-1", durationS: 600 });
    for (const vehicleId of ["ev-2", "ev-3"])
      await grid.client.requestCharge.mutate({ vehicleId, durationS: 600 });
    // ev-1's substation out of rotation, as after a failed call: the balancer would pick the other one.
    const home = grid.balancer.view.byId(v1.substationId);
    if (!home) throw new Error("ev-1's substation is not in the view");
    grid.balancer.view.markFailed(home, "taken out by the test");

    const again = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-1", durationS: 600 })
      .catch((e: unknown) => e);
    // Its own substation (found by asking) is the only one it may go to, and it is out: refused, typed.
    expect(errorDataOf(again)).toMatchObject({ reason: "HOME_SUBSTATION_UNAVAILABLE" });
    const sessionsOfEv1 = grid.substations.flatMap((s) =>
      s.station.list("active", 100).filter((x) => x.vehicleId === "ev-1"),
    );
    expect(sessionsOfEv1.map((s) => s.sessionId)).toEqual([v1.sessionId]);
    // A vehicle no substation holds still goes wherever there is room.
    const fresh = await grid.client.requestCharge.mutate({ vehicleId: "ev-4", durationS: 600 });
    expect(fresh.substationId).not.toBe(v1.substationId);
  });
});
