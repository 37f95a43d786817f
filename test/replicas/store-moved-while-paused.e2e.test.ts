/**
 * A vehicle that ended a session at one substation and, while the store was paused, started at its hashed
 * home, another one: the rebuild after the pause left its old done claim (it took any done claim for newer
 * than the substations' lists), and its next request was admitted at the old home, a second session (a
 * store-fault probe). Done claims now carry when they were written; the rebuild overwrites older ones.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually } from "@evgrid/testing";
import { outcomeOf, sharedRedis, startReplicas, untilHashing, untilState } from "./replica-grid.ts";

setDefaultTimeout(120_000);

const shared = sharedRedis();

/** degraded.ts's rendezvous hash over the two substations. */
function hashHome(vehicleId: string): string {
  const score = (id: string) => BigInt(Bun.hash.wyhash(`${id}\u0000${vehicleId}`, 0n));
  return score("substation-1") >= score("substation-2") ? "substation-1" : "substation-2";
}

describe("a vehicle that moves while the store is paused", () => {
  test("is homed where it charges once the store is rebuilt: no second session", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const vehicleId = Array.from({ length: 50 }, (_, i) => `ev-moved-${i}`).find(
      (v) => hashHome(v) === "substation-2",
    ) as string;
    const name = `evgrid:vehicle:${vehicleId}`;
    // 1. A short session at substation-1 (a charger there), which ends by itself.
    await grid
      .operator(0)
      .dispatch.mutate({ vehicleId, durationS: 2, idempotencyKey: "k-m1", substationId: "substation-1" });
    await eventually(() => expect(grid.activeByVehicle().get(vehicleId)).toBeUndefined(), {
      timeoutMs: 10_000,
    });
    // 2. The store pauses; the replicas place unknown vehicles by hash a lease later.
    shared.redis.pause();
    try {
      await untilHashing(grid);
      // 3. The vehicle starts again, no charger given: by hash, substation-2.
      const second = await grid
        .operator(1)
        .dispatch.mutate({ vehicleId, durationS: 600, idempotencyKey: "k-m2" });
      expect(second.session.substationId).toBe("substation-2");
    } finally {
      shared.redis.resume();
    }
    // 4. Back: rebuilt from the substations, then trusted.
    await untilState(grid, { storeUp: true, storeRebuilding: false, storeHashing: false });
    // The rebuild homed it where it charges now.
    const rebuilt = JSON.parse(String(await shared.store.send("GET", [name])));
    expect(rebuilt).toMatchObject({ s: "d", at: "substation-2" });
    // 5. Another request for the vehicle (another key).
    const third = await outcomeOf(
      grid.operator(0).dispatch.mutate({ vehicleId, durationS: 600, idempotencyKey: "k-m3" }),
    );
    const active = grid.activeByVehicle().get(vehicleId);
    expect(third).toBe("VEHICLE_ALREADY_CHARGING");
    expect(active).toBe(1);
  });
});
