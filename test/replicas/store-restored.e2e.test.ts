/**
 * A store restarted from persistence (an RDB snapshot, the last second of an everysec AOF, a failover to a
 * lagging replica) comes back with an old epoch, an old rebuilt mark and old claims. Found by a store-fault
 * probe: the replicas trusted it as it was, and a replica started on it trusted the old mark, so a key's
 * retry was placed by load (a second session for the key). The epoch now keeps the server's run id: another
 * one, and the store gets a new epoch (a reset, rebuilt from the substations); and the rebuild overwrites done
 * claims older than the substations' lists (a vehicle that charged elsewhere since the snapshot).
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { BalancerRouter } from "@evgrid/balancer";
import { errorDataOf } from "@evgrid/contract";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import { eventually, removeScratchDirs, scratchDir, spawnApp, startRedis } from "@evgrid/testing";
import { RedisClient } from "bun";
import { outcomeOf, startReplicas, untilSeen, untilState } from "./replica-grid.ts";

setDefaultTimeout(120_000);

// SAVE writes a snapshot there; a restart (kill -9, then start) comes back with what it holds.
const dir = scratchDir("evgrid-rdb-");
const redis = await startRedis({ dir });
const store = new RedisClient(redis.url);
afterAll(async () => {
  store.close();
  await redis[Symbol.asyncDispose]();
  removeScratchDirs();
});
describe("a store restored from an older snapshot", () => {
  test("a vehicle whose home moved after the snapshot is not admitted a second time", async () => {
    await using grid = await startReplicas(2, redis.url);
    const vehicleId = "ev-restored";
    // 1. It charges at substation-1 (a charger there).
    const first = await grid
      .operator(0)
      .dispatch.mutate({ vehicleId, durationS: 600, idempotencyKey: "k-a", substationId: "substation-1" });
    // 2. The store is snapshotted now.
    expect(await store.send("SAVE", [])).toBe("OK");
    // 3. That session is stopped, and the vehicle starts at substation-2 (a charger there).
    await grid.operator(0).stopSession.mutate({ sessionId: first.session.sessionId });
    const second = await grid
      .operator(1)
      .dispatch.mutate({ vehicleId, durationS: 600, idempotencyKey: "k-b", substationId: "substation-2" });
    // 4. The store crashes and comes back from the snapshot; both replicas see it go.
    await redis.stop(); // kill -9: nothing saved on the way down
    await untilState(grid, { storeUp: false });
    await redis.start();
    // 5. Both replicas rebuild it from the substations and trust it again.
    await untilState(grid, {
      storeUp: true,
      storeRebuilding: false,
      storeHashing: false,
      storeEvicting: false,
    });
    const claim = JSON.parse(String(await store.send("GET", [`evgrid:vehicle:${vehicleId}`])));
    expect(claim).toMatchObject({ s: "d", at: second.session.substationId });
    // 6. A new request for the vehicle (another key, no charger), through either replica.
    const third = await outcomeOf(
      grid.operator(1).dispatch.mutate({ vehicleId, durationS: 600, idempotencyKey: "k-c" }),
    );
    const active = grid.activeByVehicle().get(vehicleId);
    expect(third).toBe("VEHICLE_ALREADY_CHARGING");
    expect(active).toBe(1);
  });

  test("a replica started on the restored store does not trust its old rebuilt mark: a key's retry gets its session", async () => {
    // Two 11 kW substations: one 11 kW session fills one.
    await using grid = await startReplicas(2, redis.url, { capacityKw: 11 });
    // 1. The store is snapshotted (its epoch and rebuilt mark are in it).
    expect(await store.send("SAVE", [])).toBe("OK");
    // 2. substation-1 is full (a filler), so the vehicle's request is placed at substation-2.
    const filler = await grid.operator(0).dispatch.mutate({
      vehicleId: "ev-filler",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      substationId: "substation-1",
    });
    await untilSeen(grid, 11);
    const req = {
      vehicleId: "ev-restarted",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      idempotencyKey: "k-restarted",
    };
    const started = await grid.operator(1).dispatch.mutate(req);
    expect(started.session.substationId).toBe("substation-2");
    await grid.operator(0).stopSession.mutate({ sessionId: filler.session.sessionId });
    // 3. Every replica stops (a node restart), the store crashes and comes back from the snapshot.
    for (const b of grid.balancers) await b[Symbol.asyncDispose]();
    await redis.stop(); // kill -9: nothing saved on the way down
    await redis.start();
    // 4. A replica starts on it.
    await using fresh = await spawnApp("balancer", {
      SERVICE_TOKEN: grid.token,
      SUBSTATION_URLS: grid.substations.map((s) => s.url).join(","),
      REDIS_URL: redis.url,
      ...UNLIMITED_QUOTAS,
    });
    const op = internalClient<BalancerRouter>(fresh.url, { timeoutMs: 15_000, token: grid.token });
    await eventually(
      async () =>
        expect(await op.stateInfo.query()).toMatchObject({
          storeUp: true,
          storeRebuilding: false,
          storeHashing: false,
        }),
      { timeoutMs: 15_000 },
    );
    // 5. The charge-api retries the vehicle's request with its key (its answer was lost, say).
    const retry = await op.dispatch.mutate(req).then(
      (r) =>
        `admitted at ${r.session.substationId} ${r.session.sessionId === started.session.sessionId ? "(the same session)" : "(ANOTHER session)"}`,
      (err: unknown) => errorDataOf(err)?.reason,
    );
    const active = grid.activeByVehicle().get(req.vehicleId);
    expect(retry).toBe("admitted at substation-2 (the same session)");
    expect(active).toBe(1);
  });
});
