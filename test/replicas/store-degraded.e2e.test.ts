/**
 * The store silent (stopped) under 2 balancer replicas: what a replica cannot vouch for goes where the
 * substations hold it (its key, or its vehicle's active session), never where the load says.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { BalancerRouter } from "@evgrid/balancer";
import { errorDataOf } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { eventually, spawnApp } from "@evgrid/testing";
import { RedisClient } from "bun";
import { allSessions, sharedRedis, startReplicas, untilHashing } from "./replica-grid.ts";

setDefaultTimeout(90_000);

const shared = sharedRedis();

const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: unknown) => errorDataOf(err)?.reason ?? "?",
  );

type Grid = Awaited<ReturnType<typeof startReplicas>>;

/**
 * As a caller told STATE_REBUILDING ("nothing was started, retry shortly") does: asks again. On a busy
 * machine a substation may not answer the replica's lookup in time, and the replica says so rather than guess.
 */
async function askedAgainWhileRebuilding<T>(ask: () => Promise<T>): Promise<T> {
  const answer = await eventually(
    async () => {
      const r = await ask().catch((err: unknown) => err);
      if (errorDataOf(r)?.reason === "STATE_REBUILDING") throw new Error("told to retry");
      return r;
    },
    { timeoutMs: 15_000 },
  );
  if (answer instanceof Error) throw answer;
  return answer as T;
}

/** Stops the store and waits until both replicas admit unknown vehicles again (a lease later, by hash). */
async function storeSilent(grid: Grid): Promise<void> {
  await shared.redis.stop();
  await untilHashing(grid);
}

describe("the store silent: the substations say where a key or vehicle is", () => {
  test("a key that made a session (now ended) while the store was up, retried through the other replica: the same session, not a second", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    try {
      // Three made while the store is up, placed by load: at least one of them is not at its hashed home.
      const made = await Promise.all(
        [0, 1, 2].map((i) =>
          grid.operator(0).dispatch.mutate({
            vehicleId: `ev-ended-key-${i}`,
            maxKw: 11,
            durationS: 600,
            idempotencyKey: `ended-key-${i}`,
          }),
        ),
      );
      for (const m of made) await grid.operator(0).stopSession.mutate({ sessionId: m.session.sessionId });
      await storeSilent(grid);
      for (const [i, m] of made.entries()) {
        const again = await askedAgainWhileRebuilding(() =>
          grid.operator(1).dispatch.mutate({
            vehicleId: `ev-ended-key-${i}`,
            maxKw: 11,
            durationS: 600,
            idempotencyKey: `ended-key-${i}`,
          }),
        );
        expect({ sessionId: again.session.sessionId, replayed: again.replayed }).toEqual({
          sessionId: m.session.sessionId,
          replayed: true,
        });
      }
      expect(allSessions(grid).filter((s) => s.idempotencyKey?.startsWith("ended-key-")).length).toBe(3);
    } finally {
      await shared.redis.start();
    }
  });

  test("a key reused for another vehicle through the other replica: refused by the key's substation, one session", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    try {
      const keys = [0, 1, 2].map((i) => `reused-key-${i}`);
      await Promise.all(
        keys.map((key, i) =>
          grid
            .operator(0)
            .dispatch.mutate({ vehicleId: `ev-key-a-${i}`, maxKw: 11, durationS: 600, idempotencyKey: key }),
        ),
      );
      await storeSilent(grid);
      for (const [i, key] of keys.entries()) {
        const other = grid
          .operator(1)
          .dispatch.mutate({ vehicleId: `ev-key-b-${i}`, maxKw: 11, durationS: 600, idempotencyKey: key });
        expect(await reasonOf(other)).toBe("IDEMPOTENCY_KEY_REUSED");
      }
      expect(allSessions(grid).filter((s) => s.idempotencyKey?.startsWith("reused-key-")).length).toBe(3);
    } finally {
      await shared.redis.start();
    }
  });

  test("a replica started after the store forgot, before it was rebuilt, does not trust it: a charging vehicle is not booked elsewhere", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    const admin = new RedisClient(shared.redis.url);
    try {
      const vehicles = [0, 1, 2].map((i) => `ev-before-flush-${i}`);
      for (const vehicleId of vehicles)
        await grid.operator(0).dispatch.mutate({ vehicleId, maxKw: 11, durationS: 600 });
      await admin.send("FLUSHALL", []);
      // A replica that knew the store finds it forgot and writes a new epoch; the store is not rebuilt yet.
      await eventually(async () => expect(await admin.send("GET", ["evgrid:epoch"])).not.toBeNull(), {
        timeoutMs: 10_000,
      });
      await using late = await spawnApp("balancer", {
        SERVICE_TOKEN: grid.token,
        SUBSTATION_URLS: grid.substations.map((s) => s.url).join(","),
        REDIS_URL: shared.redis.url,
      });
      const operator = internalClient<BalancerRouter>(late.url, { timeoutMs: 15_000, token: grid.token });
      for (const vehicleId of vehicles) {
        const again = operator.dispatch.mutate({ vehicleId, maxKw: 11, durationS: 600 });
        expect([vehicleId, await reasonOf(again)]).toEqual([vehicleId, "VEHICLE_ALREADY_CHARGING"]);
      }
      for (const vehicleId of vehicles) expect(grid.activeByVehicle().get(vehicleId)).toBe(1);
    } finally {
      admin.close();
    }
  });

  test("back after a silence, not rebuilt yet: a vehicle the store last saw elsewhere goes where it charges now, not there", async () => {
    await using grid = await startReplicas(2, shared.redis.url);
    try {
      const vehicles = [0, 1, 2, 3, 4].map((i) => `ev-moved-${i}`);
      const req = (vehicleId: string) => ({ vehicleId, maxKw: 11, durationS: 600 });
      // Placed by load while the store is up (it records where), then ended behind the balancers' back.
      for (const v of vehicles) {
        const { session } = await grid.operator(0).dispatch.mutate(req(v));
        const at = grid.substations.find((s) => s.station.id === session.substationId);
        await at?.station.stop(session.sessionId);
      }
      shared.redis.pause();
      // Silent: each charges again at its hashed home, which the store never hears of.
      await eventually(
        async () =>
          expect(await grid.operator(1).stateInfo.query()).toMatchObject({
            storeUp: false,
            storeHashing: true,
          }),
        {
          timeoutMs: 15_000,
        },
      );
      for (const v of vehicles) await grid.operator(1).dispatch.mutate(req(v));
      shared.redis.resume();
      await eventually(async () => expect((await grid.operator(0).stateInfo.query()).storeUp).toBe(true), {
        timeoutMs: 15_000,
      });
      for (const v of vehicles)
        expect([v, await reasonOf(grid.operator(0).dispatch.mutate(req(v)))]).toEqual([
          v,
          "VEHICLE_ALREADY_CHARGING",
        ]);
      for (const v of vehicles) expect([v, grid.activeByVehicle().get(v)]).toEqual([v, 1]);
    } finally {
      shared.redis.resume();
    }
  });
});
