/**
 * A claim whose place was lost: the connection dropped (or the store paused) between a replica's CLAIM and its
 * TRYING, and the dispatch went on and started its session. The store is left with a pending claim that names
 * no substation. Found by a store-fault probe: once its lease ran out, the next request took it over as if
 * nothing had been tried, placed itself by load, and the key (or the vehicle) got a second session; the
 * rebuild, writing only absent keys, never corrected it.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually } from "@evgrid/testing";
import { sharedRedis, startReplicas } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();

/** Pending, no place recorded, its lease long run out: what a lost TRYING leaves behind. */
const PLACELESS = JSON.stringify({ s: "p", t: "lost", u: 1 });
const plant = (name: string) => shared.store.send("SET", [name, PLACELESS, "PX", "600000"]);
const keyClaim = async (key: string) =>
  ((await shared.store.send("KEYS", [`evgrid:key:*${key}`])) as string[])[0] as string;

describe("a claim that lost its place", () => {
  test("is taken over where the substations hold its session: no second session for the key or the vehicle", async () => {
    // Two 11 kW substations: once substation-1 holds the 11 kW session, substation-2 is the one with room.
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = {
      vehicleId: "ev-placeless",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      idempotencyKey: "k-placeless",
    };
    const started = await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    await plant(await keyClaim("k-placeless"));
    await plant("evgrid:vehicle:ev-placeless");

    const again = await grid.operator(1).dispatch.mutate(req);
    expect(again.session.sessionId).toBe(started.session.sessionId);
    await plant("evgrid:vehicle:ev-placeless");
    const other = await grid
      .operator(0)
      .dispatch.mutate({ ...req, idempotencyKey: "k-placeless-2" })
      .then(
        (r) => `admitted at ${r.session.substationId}`,
        (err: unknown) => errorDataOf(err)?.reason,
      );
    expect(other).toBe("VEHICLE_ALREADY_CHARGING");
    expect(grid.activeByVehicle().get("ev-placeless")).toBe(1);
  });

  test("is corrected by the rebuild after the store forgot: its key and vehicle point at the session again", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const req = { vehicleId: "ev-rebuilt", durationS: 600, idempotencyKey: "k-rebuilt" };
    const started = await grid.operator(0).dispatch.mutate(req);
    const keyName = await keyClaim("k-rebuilt");
    await plant(keyName);
    await plant("evgrid:vehicle:ev-rebuilt");
    // A new epoch: the replicas distrust the store and rebuild it from the substations (after a lease).
    await shared.store.send("DEL", ["evgrid:epoch"]);
    const home = JSON.stringify({ s: "d", at: started.session.substationId });
    await eventually(
      async () => {
        expect(await shared.store.send("GET", [keyName])).toBe(home);
        expect(await shared.store.send("GET", ["evgrid:vehicle:ev-rebuilt"])).toBe(home);
      },
      { timeoutMs: 30_000 },
    );
  });
});
