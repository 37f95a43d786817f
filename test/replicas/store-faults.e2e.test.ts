/**
 * The shared store misbehaving as stores do (issue 18): hung, flushed, fed garbage or planted keys, against a
 * real redis-server and real balancer processes.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually, metricValue } from "@evgrid/testing";
import { allSessions, fillingSubstation1, sharedRedis, startReplicas } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();

const first0 = (grid: { balancers: { metrics(): Promise<string> }[] }) =>
  grid.balancers[0] as { metrics(): Promise<string> };
const storeUp = async (b: { metrics(): Promise<string> }) =>
  metricValue(await b.metrics(), "evgrid_balancer_state_store_up");

describe("a shared store that misbehaves", () => {
  test("a request that starts waiting while the store hangs is served once it is back and power frees up", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = fillingSubstation1;
    const holder = await grid.operator(0).dispatch.mutate(req("ev-holder-starve"));
    shared.redis.pause();
    try {
      // Not held by the hung store: its commands time out; a certain refusal for a lease (another replica's
      // dispatch may still land), then the substation the vehicle is pinned to serves it.
      const meanwhile = await eventually(
        () => grid.operator(1).dispatch.mutate({ ...req("ev-during-pause"), substationId: "substation-2" }),
        { timeoutMs: 15_000 },
      );
      expect(meanwhile.session.substationId).toBe("substation-2");
      await eventually(async () => expect(await storeUp(first0(grid))).toBe(0), {
        timeoutMs: 10_000,
      });
      const waiting = grid
        .operator(0)
        .dispatch.mutate(req("ev-starved", 30), { context: { timeoutMs: 40_000 } });
      await eventually(
        async () =>
          expect(metricValue(await first0(grid).metrics(), "evgrid_balancer_waiting_requests")).toBe(1),
        { timeoutMs: 10_000 },
      );
      shared.redis.resume();
      await eventually(async () => expect(await storeUp(first0(grid))).toBe(1), {
        timeoutMs: 10_000,
      });
      // Back: the waiter takes its place in the shared order, then gets the power the holder frees.
      await eventually(
        async () => expect(Number(await shared.store.send("ZCARD", ["evgrid:wait"]))).toBe(1),
        {
          timeoutMs: 10_000,
        },
      );
      await grid.operator(0).stopSession.mutate({ sessionId: holder.session.sessionId });
      const served = await waiting;
      expect(served.session.vehicleId).toBe("ev-starved");
    } finally {
      shared.redis.resume();
    }
  });

  test("a malformed value under a claim is treated as absent (counted), not as a dead store", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    await shared.store.send("SET", ["evgrid:vehicle:ev-garbage", "{not json", "PX", "600000"]);
    await shared.store.send("SET", ["evgrid:key:operator\u0000k-garbage", "\u0000\u0001", "PX", "600000"]);
    const first = await grid.operator(0).dispatch.mutate({
      vehicleId: "ev-garbage",
      durationS: 600,
      idempotencyKey: "k-garbage",
    });
    // Still shared, right away: the other replica replays the same session for the key.
    expect((await grid.operator(0).stateInfo.query()).storeUp).toBe(true);
    const again = await grid.operator(1).dispatch.mutate({
      vehicleId: "ev-garbage",
      durationS: 600,
      idempotencyKey: "k-garbage",
    });
    expect(again.session.sessionId).toBe(first.session.sessionId);
    // A key of another type (a hash): garbage too. As an error it took the replica off the store at each
    // request for that vehicle, and every new vehicle was refused meanwhile (a store-fault probe).
    await shared.store.send("HSET", ["evgrid:vehicle:ev-typed", "owner", "someone else"]);
    const typed = await grid.operator(0).dispatch.mutate({ vehicleId: "ev-typed", durationS: 600 });
    expect(typed.session.status).toBe("active");
    expect((await grid.operator(0).stateInfo.query()).storeUp).toBe(true);
    const bad = metricValue(
      (await grid.balancers[0]?.metrics()) ?? "",
      "evgrid_balancer_state_store_bad_values_total",
    );
    expect(bad).toBeGreaterThan(0);
  });

  test("a claim planted without expiry locks nobody out", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const forever = JSON.stringify({ s: "p", t: "planted", u: Date.now() + 10 * 365 * 86_400_000 });
    await shared.store.send("SET", ["evgrid:vehicle:ev-planted", forever]);
    await shared.store.send("SET", ["evgrid:vehicle:ev-planted-ttl", forever, "PX", "86400000"]);
    for (const vehicleId of ["ev-planted", "ev-planted-ttl"]) {
      const r = await grid.operator(1).dispatch.mutate({ vehicleId, durationS: 600 });
      expect(r.session.vehicleId).toBe(vehicleId);
    }
    // And what the balancer wrote instead has an expiry.
    expect(Number(await shared.store.send("PTTL", ["evgrid:vehicle:ev-planted"]))).toBeGreaterThan(0);
  });

  test("a dead replica's claim taken over at a substation where the vehicle charges: the claim says so, the next request is not booked elsewhere", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const req = { vehicleId: "ev-taken-over", maxKw: 11, durationS: 600 };
    await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    // As a replica killed after its startSession landed leaves it: pending, lease run out, trying substation-1.
    const dead = JSON.stringify({ s: "p", t: "killed", u: 1, at: "substation-1" });
    await shared.store.send("SET", ["evgrid:vehicle:ev-taken-over", dead, "PX", "600000"]);
    const reasonOf = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (err: unknown) => errorDataOf(err)?.reason ?? "?",
      );
    expect(await reasonOf(grid.operator(1).dispatch.mutate(req))).toBe("VEHICLE_ALREADY_CHARGING");
    expect(await reasonOf(grid.operator(0).dispatch.mutate(req))).toBe("VEHICLE_ALREADY_CHARGING");
    expect(grid.activeByVehicle().get("ev-taken-over")).toBe(1);
  });

  test("a key tried by a dead replica, its vehicle held by another claim: the retry is uncertain, then gets the session", async () => {
    // A long dispatch deadline, so a claim planted for a minute is a live one (a lease), not a stale plant.
    await using grid = await startReplicas(2, shared.redis.url, {
      balancerEnv: { DISPATCH_DEADLINE_MS: "120000" },
    });
    const req = { vehicleId: "ev-key-tried", maxKw: 11, durationS: 600, idempotencyKey: "k-tried" };
    const started = await grid.operator(0).dispatch.mutate({ ...req, substationId: "substation-1" });
    const [keyName] = (await shared.store.send("KEYS", ["evgrid:key:*k-tried"])) as string[];
    // As a replica killed after its startSession landed leaves the key (lease run out, trying substation-1),
    // while another request for the vehicle holds its claim for a while yet.
    const dead = JSON.stringify({ s: "p", t: "killed", u: 1, at: "substation-1" });
    const other = JSON.stringify({ s: "p", t: "other", u: Date.now() + 60_000 });
    await shared.store.send("SET", [keyName as string, dead, "PX", "600000"]);
    await shared.store.send("SET", ["evgrid:vehicle:ev-key-tried", other, "PX", "600000"]);
    const refused = await grid
      .operator(1)
      .dispatch.mutate(req)
      .then(
        () => null,
        (err: unknown) => errorDataOf(err),
      );
    // Not "VEHICLE_ALREADY_CHARGING", a certain none, when the key's session exists: retry with the key.
    expect({ reason: refused?.reason, uncertain: refused?.details?.uncertain }).toEqual({
      reason: "DEADLINE_EXCEEDED",
      uncertain: true,
    });
    await shared.store.send("DEL", ["evgrid:vehicle:ev-key-tried"]);
    const again = await grid.operator(1).dispatch.mutate(req);
    expect(again.session.sessionId).toBe(started.session.sessionId);
    expect(grid.activeByVehicle().get("ev-key-tried")).toBe(1);
  });

  test("a request waiting for another replica's claim on its key is woken when it finishes, not polling", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const [seconds] = (await shared.store.send("TIME", [])) as [string, string];
    const claimName = "evgrid:key:operator\u0000k-woken";
    // Another replica holds the key for 3 s more (within the lease a balancer gives).
    const held = JSON.stringify({ s: "p", t: "elsewhere", u: Number(seconds) * 1000 + 3000 });
    await shared.store.send("SET", [claimName, held, "PX", "600000"]);
    await shared.store.send("CONFIG", ["RESETSTAT"]);
    const evalshaCalls = async () => {
      const info = String(await shared.store.send("INFO", ["commandstats"]));
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const answer = grid.operator(0).dispatch.mutate({
      vehicleId: "ev-woken",
      durationS: 600,
      idempotencyKey: "k-woken",
    });
    // It waits, subscribed to the claim's channel.
    await eventually(async () => {
      const channels = (await shared.store.send("PUBSUB", ["CHANNELS", "evgrid:done:*"])) as string[];
      expect(channels).toContain(`evgrid:done:${claimName}`);
    });
    const whileWaiting = await evalshaCalls();
    // The holder finishes: its session is on substation-2.
    await shared.store.send("SET", [
      claimName,
      JSON.stringify({ s: "d", at: "substation-2" }),
      "PX",
      "600000",
    ]);
    await shared.store.send("PUBLISH", [`evgrid:done:${claimName}`, "1"]);
    const r = await answer;
    expect(r.session.substationId).toBe("substation-2");
    // A handful of script calls (claim, re-check once subscribed, re-check when woken), not one every 20 ms;
    // and never the script text (EVAL).
    expect(whileWaiting).toBeLessThanOrEqual(4);
    const info = String(await shared.store.send("INFO", ["commandstats"]));
    expect(info).not.toContain("cmdstat_eval:");
  });

  test("FLUSHALL: a vehicle and a key another replica started are not booked elsewhere", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const req = { vehicleId: "ev-forgotten", durationS: 600, idempotencyKey: "forgotten-key" };
    const first = await grid.operator(0).dispatch.mutate(req);
    const home = first.session.substationId;
    // Replica 1 sees that substation busier than the other: a request it cannot place goes to the other.
    await eventually(async () => {
      const view = await grid.operator(1).listSubstations.query();
      expect(view.find((s) => s.substationId === home)?.load?.allocatedKw ?? 0).toBeGreaterThan(0);
    });
    await shared.store.send("FLUSHALL", []);
    // Not rebuilt yet, replica 1 asks the substations where the vehicle charges: there, the same session.
    const during = await grid.operator(1).dispatch.mutate(req);
    expect(during.session.sessionId).toBe(first.session.sessionId);
    // A vehicle nobody can vouch for yet (no session anywhere, the store empty) is refused, not guessed.
    const unknown = await grid
      .operator(1)
      .dispatch.mutate({ vehicleId: "ev-unknown", durationS: 600 })
      .then(() => "admitted")
      .catch((err) => errorDataOf(err)?.reason);
    expect(unknown).toBe("STATE_REBUILDING");
    await eventually(
      async () => expect((await grid.operator(1).stateInfo.query()).storeRebuilding).toBe(false),
      { timeoutMs: 20_000 },
    );
    const after = await grid.operator(1).dispatch.mutate(req);
    expect(after.session.sessionId).toBe(first.session.sessionId);
    expect(after.replayed).toBe(true);
    expect(grid.activeByVehicle().get("ev-forgotten")).toBe(1);
    const resets = metricValue(
      (await grid.balancers[1]?.metrics()) ?? "",
      "evgrid_balancer_state_store_resets_total",
    );
    expect(resets).toBe(1);
  });

  test("FLUSHALL under load: no vehicle twice, no key twice, the reset counted", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    let state = seed;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state % n;
    };
    const answers: string[] = [];
    const one = async () => {
      const v = random(100);
      const key = random(3) === 0 ? undefined : `flush-${v}-${random(2)}`;
      try {
        await grid.operator(random(2)).dispatch.mutate({
          vehicleId: `ev-flush-${v}`,
          durationS: 600,
          ...(key ? { idempotencyKey: key } : {}),
        });
        answers.push("ok");
      } catch (err) {
        answers.push(errorDataOf(err)?.reason ?? "?");
      }
    };
    const wave = () => Promise.all(Array.from({ length: 60 }, one));
    await wave();
    await Promise.all([wave(), shared.store.send("FLUSHALL", []), wave()]);
    await eventually(
      async () => {
        const resets = await Promise.all(
          grid.balancers.map(async (b) =>
            metricValue(await b.metrics(), "evgrid_balancer_state_store_resets_total"),
          ),
        );
        expect(resets.reduce<number>((a, b) => a + (b ?? 0), 0)).toBeGreaterThan(0);
      },
      { timeoutMs: 10_000 },
    );
    await wave();
    for (const i of [0, 1])
      await eventually(
        async () => expect((await grid.operator(i).stateInfo.query()).storeRebuilding).toBe(false),
        { timeoutMs: 20_000 },
      );
    await wave();
    const byKey = new Map<string, number>();
    for (const s of allSessions(grid))
      if (s.idempotencyKey) byKey.set(s.idempotencyKey, (byKey.get(s.idempotencyKey) ?? 0) + 1);
    const counts: Record<string, number> = {};
    for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
    console.log(`FLUSHALL under load (seed ${seed}): ${JSON.stringify(counts)}`);
    for (const [vehicle, n] of grid.activeByVehicle())
      expect({ seed, vehicle, n }).toEqual({ seed, vehicle, n: 1 });
    for (const [key, n] of byKey) expect({ seed, key, n }).toEqual({ seed, key, n: 1 });
  });
});
