/**
 * A store whose `maxmemory-policy` may evict drops claims and homes silently when it fills: the epoch stays,
 * so nothing showed it, and the next request for that vehicle, finding no claim, was placed by load: a second
 * session (the README said only that such a policy is unsafe). The replicas read the policy at each probe and
 * do not trust such a store: requests go where the substations hold the vehicle, as when it cannot vouch.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually } from "@evgrid/testing";
import { outcomeOf, sharedRedis, startReplicas, untilSeen, untilState } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();
const config = (name: string, value: string) => shared.store.send("CONFIG", ["SET", name, value]);

const untilEvicting = (grid: Awaited<ReturnType<typeof startReplicas>>, evicting: boolean) =>
  untilState(grid, { storeUp: true, storeEvicting: evicting });

describe("a store whose maxmemory-policy evicts", () => {
  test("is not trusted: a vehicle whose home it dropped is still refused a second session", async () => {
    // Two 11 kW substations: once substation-1 holds the 11 kW session, a request placed by load goes to 2.
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = { vehicleId: "ev-evicted", maxKw: 11, minKw: 11, durationS: 600 };
    await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    await untilSeen(grid, 11);
    await config("maxmemory", "64mb");
    await config("maxmemory-policy", "allkeys-lru");
    try {
      await untilEvicting(grid, true);
      await shared.store.send("DEL", ["evgrid:vehicle:ev-evicted"]); // what an eviction does
      const again = await outcomeOf(grid.operator(1).dispatch.mutate(req));
      expect(again).toBe("VEHICLE_ALREADY_CHARGING");
      expect(grid.activeByVehicle().get("ev-evicted")).toBe(1);
    } finally {
      await config("maxmemory-policy", "noeviction");
      await config("maxmemory", "0");
    }
  });

  test("set back to noeviction, the store is rebuilt and trusted again", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    await config("maxmemory", "64mb");
    await config("maxmemory-policy", "volatile-ttl");
    try {
      await untilEvicting(grid, true);
      expect(await grid.operator(0).stateInfo.query()).toMatchObject({ storeRebuilding: false });
    } finally {
      await config("maxmemory-policy", "noeviction");
    }
    await untilEvicting(grid, false);
    await untilState(grid, { storeRebuilding: false, storeHashing: false });
    await config("maxmemory", "0");
  });

  test("that keeps evicting: new vehicles are served by their hashed home after a lease, not refused on", async () => {
    // Each eviction was taken as a new loss: the lease began again every second, and while the store stayed
    // full every new vehicle was refused STATE_REBUILDING (a review).
    await using grid = await startReplicas(2, shared.redis.url);
    const evicted = async () =>
      Number(/evicted_keys:(\d+)/.exec(String(await shared.store.send("INFO", ["stats"])))?.[1]);
    const before = await evicted();
    const used = Number(/used_memory:(\d+)/.exec(String(await shared.store.send("INFO", ["memory"])))?.[1]);
    await config("maxmemory", String(used + 4_000_000));
    await config("maxmemory-policy", "allkeys-lru");
    let filling = true;
    const junk = "x".repeat(64_000);
    const filler = (async () => {
      for (let i = 0; filling; i++) {
        await shared.store.send("SET", [`junk:${i}`, junk]).catch(() => {});
        await Bun.sleep(40); // a steady trickle of evictions, not a measure of anything
      }
    })();
    try {
      await untilEvicting(grid, true);
      let n = 0;
      const served = await eventually(
        () => grid.operator(1).dispatch.mutate({ vehicleId: `ev-evicting-${++n}`, durationS: 600 }),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(served.session.status).toBe("active");
      expect(await evicted()).toBeGreaterThan(before);
      expect(await grid.operator(1).stateInfo.query()).toMatchObject({
        storeEvicting: true,
        storeHashing: true,
      });
    } finally {
      filling = false;
      await filler;
      await config("maxmemory-policy", "noeviction");
      await config("maxmemory", "0");
    }
  });
});
