/**
 * Balancer replicas sharing state in a real redis-server: 2-3 balancer processes, substations and the
 * charge-api (BALANCER_URLS) in this process, all over real HTTP and links.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { errorDataOf, walkInVehicleId } from "@evgrid/contract";
import { eventually, metricValue, spawnApp, startOcppGateway } from "@evgrid/testing";
import { fillingSubstation1, sharedRedis, startReplicas, untilHashing } from "./replica-grid.ts";

setDefaultTimeout(60_000);

const shared = sharedRedis();

describe("balancer replicas sharing state", () => {
  test("200 concurrent requests with one idempotency key, spread over 3 replicas: exactly 1 session", async () => {
    await using grid = await startReplicas(3, shared.redis.url);
    const answers = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        grid.client.requestCharge.mutate({
          vehicleId: "ev-one-key",
          durationS: 600,
          idempotencyKey: "order-200",
        }),
      ),
    );
    const ok = answers.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
    const failed = answers.flatMap((a) => (a.status === "rejected" ? [errorDataOf(a.reason)?.reason] : []));
    console.log(
      `one key over 3 replicas: ${ok.length} answered with the session, failures ${JSON.stringify(failed)}`,
    );
    expect(new Set(ok.map((g) => g.sessionId)).size).toBe(1);
    expect(ok.length).toBeGreaterThan(150);
    expect(grid.activeByVehicle().get("ev-one-key")).toBe(1);
    // And each replica served some of them: the spread is real.
    for (const b of grid.balancers) {
      const started = metricValue(await b.metrics(), "evgrid_balancer_dispatch_tries_count");
      expect(started).toBeGreaterThan(0);
    }
  });

  test("the same vehicle through two replicas at once: 1 active session and a 409", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const req = { vehicleId: `ev-twice-${i}`, maxKw: 11, minKw: 4.2, durationS: 600 };
      const both = await Promise.allSettled([
        grid.operator(0).dispatch.mutate(req),
        grid.operator(1).dispatch.mutate(req),
      ]);
      const kinds = both
        .map((b) => (b.status === "fulfilled" ? "ok" : (errorDataOf(b.reason)?.reason ?? "?")))
        .sort();
      outcomes.push(kinds.join("+"));
      expect(kinds).toEqual(["VEHICLE_ALREADY_CHARGING", "ok"]);
    }
    for (const [, n] of grid.activeByVehicle()) expect(n).toBe(1);
    expect(grid.activeByVehicle().size).toBe(20);
  });

  test("kill -9 of one replica under load: the charge-api fails over, nothing hangs, no vehicle twice", async () => {
    await using grid = await startReplicas(3, shared.redis.url);
    const latencies: number[] = [];
    const failures: string[] = [];
    // What a caller told "it may have started" needs to settle it: the vehicle and the key it was given.
    const unsettled: { vehicleId: string; key: unknown; uncertain: unknown }[] = [];
    let n = 0;
    const sendOne = async () => {
      const vehicleId = `ev-load-${n++}`;
      const started = performance.now();
      try {
        await grid.client.requestCharge.mutate({ vehicleId, durationS: 600 });
      } catch (err) {
        const data = errorDataOf(err);
        failures.push(data?.reason ?? String(err));
        const details = (data?.details ?? {}) as { idempotencyKey?: unknown; uncertain?: unknown };
        unsettled.push({ vehicleId, key: details.idempotencyKey, uncertain: details.uncertain });
      } finally {
        latencies.push(performance.now() - started);
      }
    };
    // Four callers, each sending its next request once the last is answered: load that keeps up with
    // the grid however slow the machine is. The kill comes once requests flow, the end 200 answers later.
    let loading = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (loading) await sendOne();
      }),
    );
    const answered = (n: number) =>
      eventually(() => expect(latencies.length).toBeGreaterThanOrEqual(n), { timeoutMs: 60_000 });
    await answered(40);
    const victim = grid.balancers[1];
    victim?.proc.kill("SIGKILL");
    await answered(latencies.length + 200);
    loading = false;
    await load; // nothing hangs: every request is answered (the charge-api's call timeout bounds each)
    const slowest = Math.max(...latencies);
    console.log(
      `kill -9 under load: ${latencies.length} requests, ${failures.length} failed ${JSON.stringify(failures)}, slowest ${slowest.toFixed(0)} ms`,
    );
    // Most go through on the other replicas (how fast is `bun run bench`'s business).
    expect(failures.length).toBeLessThan(latencies.length * 0.1);
    // A request in flight at the killed replica cannot be answered for sure: the replica that takes it up
    // waits for the dead one's claim (its lease) to run out, and the charge-api's deadline comes first. The
    // caller is told so, with the key; once the lease has run out, a retry with that key gets the one
    // session (the first try's, or a new one if it never landed), never a second.
    for (const u of unsettled) {
      expect(u).toEqual({ vehicleId: u.vehicleId, key: expect.stringMatching(/^auto:/), uncertain: true });
      const settled = await eventually(
        () =>
          grid.client.requestCharge.mutate({
            vehicleId: u.vehicleId,
            durationS: 600,
            idempotencyKey: u.key as string,
          }),
        { timeoutMs: 20_000 },
      );
      expect(settled.vehicleId).toBe(u.vehicleId);
    }
    for (const [vehicle, count] of grid.activeByVehicle())
      expect({ vehicle, count }).toEqual({ vehicle, count: 1 });
  });

  test("the wait queue is first come, first served across replicas", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const req = fillingSubstation1;
    const first = await grid.operator(0).dispatch.mutate(req("ev-holder"));
    const order: string[] = [];
    const wait = (replica: number, vehicleId: string) =>
      grid
        .operator(replica)
        .dispatch.mutate(req(vehicleId, 20), { context: { timeoutMs: 25_000 } })
        .then((r) => {
          order.push(vehicleId);
          return r;
        });
    // The earlier waiter is on replica 0, the later on replica 1; the substation-1 is full. Each has its
    // ticket in the shared order before the next step.
    const tickets = (n: number) =>
      eventually(async () => expect(Number(await shared.store.send("ZCARD", ["evgrid:wait"]))).toBe(n), {
        timeoutMs: 10_000,
      });
    const early = wait(0, "ev-early");
    await tickets(1);
    const late = wait(1, "ev-late");
    await tickets(2);
    await grid.operator(1).stopSession.mutate({ sessionId: first.session.sessionId });
    const admitted = await early;
    // Both replicas pass over their queues twice more (the second pass starts after the first ended, so
    // one began after the admission): the later waiter must still be waiting.
    const pumps = async (i: number) =>
      metricValue((await grid.balancers[i]?.metrics()) ?? "", "evgrid_balancer_wait_pumps_total") ?? 0;
    const since = [await pumps(0), await pumps(1)];
    await eventually(
      async () => {
        expect(await pumps(0)).toBeGreaterThanOrEqual((since[0] ?? 0) + 2);
        expect(await pumps(1)).toBeGreaterThanOrEqual((since[1] ?? 0) + 2);
      },
      { timeoutMs: 15_000 },
    );
    expect(order).toEqual(["ev-early"]);
    await grid.operator(0).stopSession.mutate({ sessionId: admitted.session.sessionId });
    await late;
    expect(order).toEqual(["ev-early", "ev-late"]);
  });

  test("store down (gauge 0): a certain refusal for a lease, then one vehicle through both replicas is one session; back: shared again (gauge 1)", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const up = async () =>
      Promise.all(
        grid.balancers.map(async (b) => metricValue(await b.metrics(), "evgrid_balancer_state_store_up")),
      );
    expect(await up()).toEqual([1, 1]);
    await shared.redis.stop();
    const req = { vehicleId: "ev-store-down", maxKw: 11, durationS: 600 };
    const reasonOf = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (err: unknown) => errorDataOf(err)?.reason ?? "?",
      );
    // Just lost: a dispatch another replica claimed before may still land, so nothing is started yet.
    expect(await reasonOf(grid.operator(0).dispatch.mutate(req))).toBe("STATE_REBUILDING");
    await eventually(async () => expect(await up()).toEqual([0, 0]), { timeoutMs: 10_000 });
    expect((await grid.operator(0).stateInfo.query()).storeUp).toBe(false);
    // A lease later, the vehicle's hashed home (the same for every replica): the second replica's request
    // goes where the substations say it charges, which refuses it.
    await untilHashing(grid);
    const during = await grid.operator(0).dispatch.mutate(req);
    expect(await reasonOf(grid.operator(1).dispatch.mutate(req))).toBe("VEHICLE_ALREADY_CHARGING");
    expect(grid.activeByVehicle().get("ev-store-down")).toBe(1);
    await grid.operator(0).stopSession.mutate({ sessionId: during.session.sessionId });

    await shared.redis.start();
    await eventually(async () => expect(await up()).toEqual([1, 1]), { timeoutMs: 10_000 });
    // It came back empty (no persistence): each replica rebuilds it from the substations first.
    for (const i of [0, 1])
      await eventually(
        async () => expect((await grid.operator(i).stateInfo.query()).storeRebuilding).toBe(false),
        { timeoutMs: 15_000 },
      );
    // Shared again: one key over both replicas is one session.
    const again = await Promise.all(
      Array.from({ length: 20 }, () =>
        grid.client.requestCharge.mutate({
          vehicleId: "ev-after",
          durationS: 600,
          idempotencyKey: "after-outage",
        }),
      ),
    );
    expect(new Set(again.map((g) => g.sessionId)).size).toBe(1);
  });

  test("the OCPP gateway spreads over the replicas: with one killed, a walk-in is still admitted and powered", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    await using ocpp = await startOcppGateway(
      { balancer: grid.balancers[0] as { url: string }, serviceToken: grid.token },
      { BALANCER_URLS: grid.balancers.map((b) => b.url).join(",") },
    );
    grid.balancers[0]?.proc.kill("SIGKILL");
    const cp = await ocpp.charger("cp-replicas");
    await cp.startTransaction(1, "ev-replicas");
    await eventually(() => expect(cp.limit(1)).toBe(11_000), { timeoutMs: 10_000 });
    expect(grid.activeByVehicle().get(walkInVehicleId("ev-replicas"))).toBe(1);
  });

  test("a replica started while the store is down starts anyway, on its own memory, and shares once it is back", async () => {
    await shared.redis.stop();
    try {
      await using lone = await spawnApp("balancer", {
        SERVICE_TOKEN: randomBytes(24).toString("base64url"),
        SUBSTATION_URLS: "",
        REDIS_URL: shared.redis.url,
      });
      expect(metricValue(await lone.metrics(), "evgrid_balancer_state_store_up")).toBe(0);
      await shared.redis.start();
      await eventually(
        async () => expect(metricValue(await lone.metrics(), "evgrid_balancer_state_store_up")).toBe(1),
        {
          timeoutMs: 10_000,
        },
      );
    } finally {
      await shared.redis.start();
    }
  });
});
