/**
 * A store full under `noeviction` refuses every write but still answers reads. Found by a store-fault probe:
 * the replicas' probe only read, so each second the store looked up again, the next claim failed, and every
 * new vehicle was refused STATE_REBUILDING for as long as it stayed full. Full is down: after a lease, new
 * vehicles go to their hashed home, as when the store is unreachable.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually } from "@evgrid/testing";
import { sharedRedis, startReplicas } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();

describe("a store full under noeviction", () => {
  test("is down for the replicas: new vehicles are served by their hashed home after a lease", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    await grid.operator(0).dispatch.mutate({ vehicleId: "ev-before-full", durationS: 600 });
    await shared.store.send("CONFIG", ["SET", "maxmemory-policy", "noeviction"]);
    await shared.store.send("CONFIG", ["SET", "maxmemory", "1"]); // every write refused from now
    try {
      let n = 0;
      const served = await eventually(
        () => grid.operator(1).dispatch.mutate({ vehicleId: `ev-full-${++n}`, durationS: 600 }),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(served.session.status).toBe("active");
      expect(await grid.operator(1).stateInfo.query()).toMatchObject({ storeUp: false });
    } finally {
      await shared.store.send("CONFIG", ["SET", "maxmemory", "0"]);
    }
  });
});
