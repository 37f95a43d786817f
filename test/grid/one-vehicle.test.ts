import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { startGrid } from "@evgrid/testing";

describe("one session per vehicle through one balancer", () => {
  test("20 requests for one vehicle at once, each with its own key, 4 substations: 1 session, the rest refused", async () => {
    // Before: each went to the substation with the most headroom as the balancer saw it while the others were
    // in flight, and each substation admitted one (4 sessions for one vehicle).
    await using grid = await startGrid({ capacitiesKw: [150, 150, 150, 150] });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        grid.client.requestCharge
          .mutate({ vehicleId: "ev-many", maxKw: 11, durationS: 600, idempotencyKey: `order-${i}` })
          .then(
            (g) => g.sessionId,
            (err: unknown) => errorDataOf(err)?.reason,
          ),
      ),
    );
    const sessions = new Set(answers.filter((a) => a?.includes(".")));
    expect(sessions.size).toBe(1);
    expect(answers.filter((a) => a === "VEHICLE_ALREADY_CHARGING")).toHaveLength(19);
    const active = grid.substations.flatMap((s) => s.station.list("active", 100));
    expect(active.map((s) => s.vehicleId)).toEqual(["ev-many"]);
  });
});
