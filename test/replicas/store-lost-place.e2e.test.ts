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
import { outcomeOf, sharedRedis, startReplicas, untilSeen, untilState } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();

/** Pending, no place recorded, its lease long run out: what a lost TRYING leaves behind. */
const PLACELESS = JSON.stringify({ s: "p", t: "lost", u: 1 });
const plant = (name: string) => shared.store.send("SET", [name, PLACELESS, "PX", "600000"]);
/** Both replicas see substation-1 full: a request either placed by load would go to substation-2. */
const seeSubstation1Full = (grid: Awaited<ReturnType<typeof startReplicas>>) => untilSeen(grid, 11);
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
    await seeSubstation1Full(grid);
    await plant(await keyClaim("k-placeless"));
    await plant("evgrid:vehicle:ev-placeless");

    const again = await grid.operator(1).dispatch.mutate(req);
    expect(again.session.sessionId).toBe(started.session.sessionId);
    await plant("evgrid:vehicle:ev-placeless");
    const other = await outcomeOf(
      grid.operator(0).dispatch.mutate({ ...req, idempotencyKey: "k-placeless-2" }),
    );
    expect(other).toBe("VEHICLE_ALREADY_CHARGING");
    expect(grid.activeByVehicle().get("ev-placeless")).toBe(1);
  });

  test("refused once because a substation did not answer, is still taken over where its session is", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = {
      vehicleId: "ev-unanswered",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      idempotencyKey: "k-unanswered",
    };
    const started = await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    await seeSubstation1Full(grid);
    await plant(await keyClaim("k-unanswered"));
    await plant("evgrid:vehicle:ev-unanswered");
    // substation-2 does not answer where the vehicle charges, once: nobody can vouch, a certain refusal.
    const station = grid.substations[1]?.station as unknown as { activeSessionOf: (v: string) => unknown };
    const real = station.activeSessionOf.bind(station);
    station.activeSessionOf = () => {
      throw new Error("substation-2 is not answering");
    };
    const first = await grid
      .operator(1)
      .dispatch.mutate(req)
      .then(
        () => "admitted",
        (err: unknown) => errorDataOf(err)?.reason,
      );
    station.activeSessionOf = real;
    expect(first).toBe("STATE_REBUILDING");
    // The claims were left as they were (released, they were deleted, and the retry was placed by load).
    const again = await eventually(() => grid.operator(1).dispatch.mutate(req), { timeoutMs: 20_000 });
    expect(again.session.sessionId).toBe(started.session.sessionId);
    expect(grid.activeByVehicle().get("ev-unanswered")).toBe(1);
  });

  test("handed back stale when its request started nothing: the same request's retry is not refused as busy", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = { vehicleId: "ev-handed-back", maxKw: 11, minKw: 11, durationS: 600, idempotencyKey: "k-hb" };
    await plant("evgrid:vehicle:ev-handed-back"); // it charges nowhere
    const station = grid.substations[1]?.station as unknown as { activeSessionOf: (v: string) => unknown };
    const real = station.activeSessionOf.bind(station);
    station.activeSessionOf = () => {
      throw new Error("substation-2 is not answering");
    };
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => "admitted",
        (err: unknown) => errorDataOf(err)?.reason,
      );
    expect(await reason(grid.operator(1).dispatch.mutate(req))).toBe("STATE_REBUILDING");
    station.activeSessionOf = real;
    // At once: kept with its lease, the claim made this a certain VEHICLE_ALREADY_CHARGING (the OCPP gateway
    // stops a car's transaction on that).
    expect(await reason(grid.operator(1).dispatch.mutate(req))).toBe("admitted");
  });

  test("handed back stale when its run ended with nothing started (the caller gave up): the retry finds the session", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = {
      vehicleId: "ev-gave-up",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      idempotencyKey: "k-gave-up",
    };
    const started = await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    await seeSubstation1Full(grid);
    const keyName = await keyClaim("k-gave-up");
    await plant(keyName);
    await plant("evgrid:vehicle:ev-gave-up");
    // substation-2 says where the vehicle and key are only after the caller's 500 ms.
    type Lookups = Record<"activeSessionOf" | "sessionOfKey", (...a: unknown[]) => unknown>;
    const station = grid.substations[1]?.station as unknown as Lookups;
    const real = { activeSessionOf: station.activeSessionOf, sessionOfKey: station.sessionOfKey };
    for (const name of ["activeSessionOf", "sessionOfKey"] as const)
      station[name] = (...a: unknown[]) => Bun.sleep(700).then(() => real[name].apply(station, a));
    await grid
      .operator(1)
      .dispatch.mutate(req, { context: { timeoutMs: 500 } })
      .catch(() => {});
    // Its dispatch ends after its caller gave up, with nothing started: the key's claim is handed back (it
    // was deleted, and the retry placed by load).
    await eventually(async () =>
      expect(JSON.parse(String(await shared.store.send("GET", [keyName])))).toMatchObject({ t: "" }),
    );
    Object.assign(station, real);
    const again = await eventually(() => grid.operator(1).dispatch.mutate(req), { timeoutMs: 20_000 });
    expect(again.session.sessionId).toBe(started.session.sessionId);
    expect(grid.activeByVehicle().get("ev-gave-up")).toBe(1);
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
    const home = { s: "d", at: started.session.substationId };
    const claim = async (name: string) => JSON.parse(String(await shared.store.send("GET", [name])));
    await eventually(
      async () => {
        expect(await claim(keyName)).toMatchObject(home);
        expect(await claim("evgrid:vehicle:ev-rebuilt")).toMatchObject(home);
      },
      { timeoutMs: 30_000 },
    );
  });

  test("a claim whose written-at is not a number does not stop the rebuild: the replicas trust the store again", async () => {
    // A review: REBUILD_HOME compared it with the list's time and failed, at every rebuild, for good.
    await using grid = await startReplicas(2, shared.redis.url);
    await grid
      .operator(0)
      .dispatch.mutate({ vehicleId: "ev-bad-w", durationS: 600, substationId: "substation-1" });
    const badW = JSON.stringify({ s: "d", at: "substation-1", w: "yesterday" });
    await shared.store.send("SET", ["evgrid:vehicle:ev-bad-w", badW, "PX", "600000"]);
    await shared.store.send("DEL", ["evgrid:epoch"]); // forgotten: rebuilt after a lease
    await untilState(grid, { storeRebuilding: true });
    await untilState(grid, { storeUp: true, storeRebuilding: false });
    const claim = JSON.parse(String(await shared.store.send("GET", ["evgrid:vehicle:ev-bad-w"])));
    expect(claim).toMatchObject({ s: "d", at: "substation-1" });
    expect(typeof claim.w).toBe("number");
  });
});
