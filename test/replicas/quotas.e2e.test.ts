/**
 * Quotas across balancer replicas, in a real redis-server: one API key with a quota of N sessions holds N,
 * whichever replicas its requests reach. Two balancer processes, substations and the charge-api in this
 * process, all over real HTTP.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { errorDataOf } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { eventually, metricValue, startRedis } from "@evgrid/testing";
import { RedisClient } from "bun";
import { sharedRedis, startReplicas, untilHashing } from "./replica-grid.ts";

setDefaultTimeout(60_000);

const QUOTA = 4;
/** Each test its own key: the store outlives a test's grid, and with it what the key holds. */
async function startGrid(redisUrl: string, key: string) {
  const grid = await startReplicas(2, redisUrl, {
    balancerEnv: { QUOTA_ACTIVE_SESSIONS: String(QUOTA) },
    chargeApiEnv: { API_KEYS: key },
  });
  const { api, substations } = grid;
  const client = internalClient<ChargeApiRouter>(api.url, { timeoutMs: 15_000, token: key });
  return {
    ...grid,
    /** One request per vehicle, all at once: the sessions admitted and the refusals' reasons and quotas. */
    async requestAll(vehicles: string[]) {
      const answers = await Promise.allSettled(
        vehicles.map((vehicleId) => client.requestCharge.mutate({ vehicleId, durationS: 3600 })),
      );
      return {
        admitted: answers.flatMap((a) => (a.status === "fulfilled" ? [a.value.sessionId] : [])),
        refused: answers.flatMap((a) => {
          if (a.status === "fulfilled") return [];
          const data = errorDataOf(a.reason);
          return [`${data?.reason}:${(data?.details as { quota?: string } | undefined)?.quota}`];
        }),
      };
    },
    /** The same request, with its idempotency key. */
    keyed: (vehicleId: string, idempotencyKey: string) =>
      client.requestCharge.mutate({ vehicleId, durationS: 3600, idempotencyKey }),
    stop: (sessionId: string) => client.stopCharge.mutate({ sessionId }),
    active: () => substations.flatMap((s) => s.station.list("active", 100_000)),
  };
}

const shared = sharedRedis();

describe("a caller's session quota across replicas", () => {
  test(`a key with a quota of ${QUOTA} sessions, its requests spread over 2 replicas: exactly ${QUOTA} admitted`, async () => {
    await using grid = await startGrid(shared.redis.url, "spread-key-0123456789abcdef");
    const first = await grid.requestAll(Array.from({ length: 12 }, (_, i) => `ev-q-${i}`));
    console.log(`12 requests over 2 replicas: ${first.admitted.length} admitted, refused ${first.refused}`);
    expect(first.admitted.length).toBe(QUOTA);
    expect(first.refused).toEqual(Array(12 - QUOTA).fill("QUOTA_EXCEEDED:active_sessions"));
    expect(grid.active().length).toBe(QUOTA);
    // Both replicas took part: each refused some of them (quotas are checked before any dispatch).
    for (const b of grid.balancers)
      expect(
        metricValue(await b.metrics(), "evgrid_balancer_dispatches_total", { outcome: "quota" }),
      ).toBeGreaterThan(0);

    // One ends (stopped through whichever replica): one more place, and only one, across both.
    await grid.stop(first.admitted[0] as string);
    const second = await grid.requestAll(Array.from({ length: 6 }, (_, i) => `ev-q2-${i}`));
    expect(second.admitted.length).toBe(1);
    expect(second.refused).toEqual(Array(5).fill("QUOTA_EXCEEDED:active_sessions"));
    expect(grid.active().length).toBe(QUOTA);
  });

  test("a session that ended at its substation, behind every balancer's back, frees its place", async () => {
    await using grid = await startGrid(shared.redis.url, "ended-key-0123456789abcdef");
    const first = await grid.requestAll(Array.from({ length: QUOTA }, (_, i) => `ev-e-${i}`));
    expect(first.admitted.length).toBe(QUOTA);
    expect((await grid.requestAll(["ev-e-more"])).refused).toEqual(["QUOTA_EXCEEDED:active_sessions"]);
    const ended = grid.active()[0]?.sessionId as string;
    const at = grid.substations.find((s) => s.station.list("active", 100).some((x) => x.sessionId === ended));
    at?.station.stop(ended);
    // The replicas learn it from the substation when the caller is at its quota (at most every 2 s).
    await eventually(async () => expect((await grid.requestAll(["ev-e-more"])).admitted.length).toBe(1));
    expect(grid.active().length).toBe(QUOTA);
  });

  test("at its quota, a key's request retried with its idempotency key, through either replica, gets its session", async () => {
    await using grid = await startGrid(shared.redis.url, "retry-key-0123456789abcdef");
    const others = await grid.requestAll(Array.from({ length: QUOTA - 1 }, (_, i) => `ev-r-${i}`));
    expect(others.admitted.length).toBe(QUOTA - 1);
    const made = await grid.keyed("ev-r-keyed", "order-1");
    // Retries alternate over both replicas (round-robin): each answers the session, none counts it again.
    for (let i = 0; i < 4; i++) {
      const again = await grid.keyed("ev-r-keyed", "order-1");
      expect({ sessionId: again.sessionId, replayed: again.replayed }).toEqual({
        sessionId: made.sessionId,
        replayed: true,
      });
    }
    expect((await grid.requestAll(["ev-r-more"])).refused).toEqual(["QUOTA_EXCEEDED:active_sessions"]);
  });

  test("the store down: each replica holds the key to its own quota; back (and empty), across both again", async () => {
    await using own = await startRedis();
    await using grid = await startGrid(own.url, "down-key-0123456789abcdef");
    await own.stop();
    await eventually(async () => {
      for (const b of grid.balancers)
        expect(metricValue(await b.metrics(), "evgrid_balancer_state_store_up")).toBe(0);
    });
    // A lease after losing it, unknown vehicles are admitted again (at their hashed home).
    await untilHashing(grid);
    const down = await grid.requestAll(Array.from({ length: 12 }, (_, i) => `ev-d-${i}`));
    console.log(`store down: ${down.admitted.length} admitted of 12 (quota ${QUOTA} per replica)`);
    expect(down.admitted.length).toBeGreaterThanOrEqual(QUOTA);
    expect(down.admitted.length).toBeLessThanOrEqual(2 * QUOTA);
    expect(new Set(down.refused)).toEqual(new Set(["QUOTA_EXCEEDED:active_sessions"]));

    // Back, with nothing in it: each replica writes what it holds into it with its next reservation.
    await own.start();
    for (const id of down.admitted) await grid.stop(id);
    await eventually(async () => {
      for (const b of grid.balancers)
        expect(metricValue(await b.metrics(), "evgrid_balancer_state_store_up")).toBe(1);
    });
    // It came back empty: each replica first rebuilds the claims from the substations (their own epoch);
    // until then a request nobody can vouch for is refused STATE_REBUILDING, which is not the quota.
    for (const i of grid.balancers.keys())
      await eventually(
        async () => expect((await grid.operator(i).stateInfo.query()).storeRebuilding).toBe(false),
        { timeoutMs: 15_000 },
      );
    const back = await grid.requestAll(Array.from({ length: 12 }, (_, i) => `ev-b-${i}`));
    expect(back.admitted.length).toBe(QUOTA);
  });

  test("a store that forgot (FLUSHALL, SCRIPT FLUSH) is rebuilt from the substations before it counts: the quota holds", async () => {
    await using grid = await startGrid(shared.redis.url, "flush-key-0123456789abcdef");
    const first = await grid.requestAll(Array.from({ length: QUOTA }, (_, i) => `ev-f-${i}`));
    expect(first.admitted.length).toBe(QUOTA);
    const admin = new RedisClient(shared.redis.url);
    await admin.send("FLUSHALL", []);
    // And its scripts: each replica loads the quota script again (EVALSHA answers NOSCRIPT).
    await admin.send("SCRIPT", ["FLUSH"]);
    admin.close();
    // Each replica alone holds fewer than the quota: only the rebuilt store can refuse these.
    const burst = await grid.requestAll(Array.from({ length: 6 }, (_, i) => `ev-f2-${i}`));
    expect(burst.admitted).toEqual([]);
    expect(new Set(burst.refused)).toEqual(new Set(["QUOTA_EXCEEDED:active_sessions"]));
    expect(grid.active().length).toBe(QUOTA);
  });
});
