/**
 * SharedQuota against a real redis-server: two instances stand for two replicas. What the dispatcher
 * would answer about the grid is a stub (no sessions at the substations).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { eventually, startRedis } from "@evgrid/testing";
import { RedisLink } from "../src/redis-link.ts";
import { type QuotaGrid, SharedQuota } from "../src/shared-quota.ts";

let redis: Awaited<ReturnType<typeof startRedis>>;
const clients: RedisLink[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await redis?.[Symbol.asyncDispose]();
});

const grid: QuotaGrid = { activeSessions: async () => [], held: () => [], ended: async () => [] };

async function replica(reservationTtlMs = 60_000) {
  const link = new RedisLink({ url: redis.url }, 1000);
  clients.push(link);
  await link.connect();
  return new SharedQuota({ link, reservationTtlMs });
}

const session = (sessionId: string, owner: string, minKw: number) =>
  ({ sessionId, owner, minKw, startedAt: new Date().toISOString(), durationS: 3600 }) as Session;

describe("SharedQuota", () => {
  test("a reservation its replica never finished (killed mid-dispatch) frees its place once its TTL runs out", async () => {
    // 2 s: the other replica's refusal comes well within it on a loaded machine (300 ms did not always).
    const dead = await replica(2000);
    const alive = await replica();
    const quota = { maxActiveSessions: 1, maxGridShare: 1 };
    const taken = await dead.reserve("key:00000000000000a1", undefined, 1, quota, 0, grid);
    expect(taken?.ok).toBe(true);
    const refused = await alive.reserve("key:00000000000000a1", undefined, 1, quota, 0, grid);
    expect(refused).toMatchObject({ ok: false, decision: { quota: "active_sessions", limit: 1 } });
    // The store's clock expires it: no replica has to be alive for that.
    await eventually(
      async () => {
        const answer = await alive.reserve("key:00000000000000a1", undefined, 1, quota, 0, grid);
        expect(answer?.ok).toBe(true);
        if (answer?.ok) answer.reservation.release();
      },
      { timeoutMs: 15_000 },
    );
  });

  test("minimums add up across replicas against the grid share; a release gives the kW back", async () => {
    const [a, b] = [await replica(), await replica()];
    const quota = { maxActiveSessions: 100, maxGridShare: 0.5 };
    const first = await a.reserve("key:00000000000000b2", undefined, 60, quota, 200, grid);
    if (!first?.ok) throw new Error("the first 60 kW fit a 100 kW share");
    first.reservation.admitted(session("substation-1.s1", "key:00000000000000b2", 60));
    const over = await b.reserve("key:00000000000000b2", undefined, 50, quota, 200, grid);
    expect(over).toMatchObject({ ok: false, decision: { quota: "grid_share", limitKw: 100 } });
    b.ended("key:00000000000000b2", "substation-1.s1");
    await eventually(async () => {
      const fits = await b.reserve("key:00000000000000b2", undefined, 50, quota, 200, grid);
      expect(fits?.ok).toBe(true);
    });
  });

  test("a store that does not answer: null (per-replica quotas), soon, not a hang", async () => {
    await using down = await startRedis();
    const link = new RedisLink({ url: down.url }, 200);
    clients.push(link);
    await link.connect();
    const quota = new SharedQuota({ link, reservationTtlMs: 1000 });
    await down.stop();
    const answer = await quota.reserve(
      "key:00000000000000c3",
      undefined,
      1,
      { maxActiveSessions: 1, maxGridShare: 1 },
      0,
      grid,
    );
    expect(answer).toBeNull();
  });
});
