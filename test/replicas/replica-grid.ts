/** A grid of balancer replicas sharing a redis-server: substations and the charge-api in this process. */
import { afterAll, beforeAll, expect } from "bun:test";
import { randomBytes } from "node:crypto";
import type { BalancerRouter } from "@evgrid/balancer";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { startChargeApi } from "@evgrid/charge-api/app";
import { readEnv as chargeApiEnv } from "@evgrid/charge-api/env";
import { errorDataOf } from "@evgrid/contract";
import { type Scheduler, UNLIMITED_QUOTAS } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import { type RunningSubstation, startSubstation } from "@evgrid/substation/app";
import { readEnv as substationEnv } from "@evgrid/substation/env";
import { eventually, spawnApp, startRedis } from "@evgrid/testing";
import { RedisClient } from "bun";

/** One redis-server for a file's tests and a client to look into it: started before them, stopped after. */
export function sharedRedis() {
  const shared = {} as { redis: Awaited<ReturnType<typeof startRedis>>; store: RedisClient };
  beforeAll(async () => {
    shared.redis = await startRedis();
    shared.store = new RedisClient(shared.redis.url);
  });
  afterAll(async () => {
    shared.store?.close();
    await shared.redis?.[Symbol.asyncDispose]();
  });
  return shared;
}

export interface ReplicaOptions {
  /** Each substation's (two of them). */
  capacityKw?: number;
  balancerEnv?: Record<string, string>;
  chargeApiEnv?: Record<string, string>;
  /** Runs substation-1's session ends (a test makes them late); none: its own timers. */
  substation1Scheduler?: Scheduler;
}

export async function startReplicas(count: number, redisUrl: string, opts: ReplicaOptions = {}) {
  const { capacityKw = 100_000, balancerEnv = {}, chargeApiEnv: apiEnv = {}, substation1Scheduler } = opts;
  const token = randomBytes(24).toString("base64url");
  const substations: RunningSubstation[] = await Promise.all(
    [1, 2].map((i) =>
      startSubstation(
        substationEnv({
          SUBSTATION_ID: `substation-${i}`,
          SUBSTATION_CAPACITY_KW: String(capacityKw),
          PORT: "0",
          LOG_QUIET: "true",
          SERVICE_TOKEN: token,
          SUBSTATION_DB_PATH: ":memory:",
        }),
        i === 1 && substation1Scheduler ? { scheduler: substation1Scheduler } : {},
      ),
    ),
  );
  const balancers = await Promise.all(
    Array.from({ length: count }, () =>
      spawnApp("balancer", {
        SERVICE_TOKEN: token,
        SUBSTATION_URLS: substations.map((s) => s.url).join(","),
        REDIS_URL: redisUrl,
        ...UNLIMITED_QUOTAS,
        ...balancerEnv,
      }),
    ),
  );
  const api = await startChargeApi(
    chargeApiEnv({
      PORT: "0",
      BALANCER_URLS: balancers.map((b) => b.url).join(","),
      SERVICE_TOKEN: token,
      LOG_QUIET: "true",
      ...UNLIMITED_QUOTAS,
      ...apiEnv,
    }),
  );
  const grid = {
    token,
    substations,
    balancers,
    api,
    client: internalClient<ChargeApiRouter>(api.url, { timeoutMs: 15_000 }),
    operator: (i: number) =>
      internalClient<BalancerRouter>((balancers[i] as { url: string }).url, { timeoutMs: 15_000, token }),
    /** Every active session of every substation, by vehicle. */
    activeByVehicle() {
      const counts = new Map<string, number>();
      for (const s of substations)
        for (const x of s.station.list("active", 100_000))
          counts.set(x.vehicleId, (counts.get(x.vehicleId) ?? 0) + 1);
      return counts;
    },
    async [Symbol.asyncDispose]() {
      await api.stop();
      await Promise.all(balancers.map((b) => b[Symbol.asyncDispose]()));
      await Promise.all(substations.map((s) => s.stop()));
    },
  };
  // Every replica trusts the store before the test's requests count: one an earlier test left unrebuilt
  // (paused, flushed) is rebuilt first.
  try {
    for (const i of balancers.keys())
      await eventually(
        async () =>
          expect(await grid.operator(i).stateInfo.query()).toMatchObject({
            storeUp: true,
            storeRebuilding: false,
          }),
        { timeoutMs: 15_000 },
      );
  } catch (err) {
    await grid[Symbol.asyncDispose]();
    throw err;
  }
  return grid;
}

/** Waits until every replica has lost the store and places unknown vehicles by hash (a lease later). */
export async function untilHashing(grid: Awaited<ReturnType<typeof startReplicas>>, replicas = [0, 1]) {
  for (const i of replicas)
    await eventually(
      async () =>
        expect(await grid.operator(i).stateInfo.query()).toMatchObject({
          storeUp: false,
          storeHashing: true,
        }),
      { timeoutMs: 15_000 },
    );
}

/** Every session (active or ended) of every substation. */
export function allSessions(grid: { substations: RunningSubstation[] }) {
  return grid.substations.flatMap((s) => s.station.list("all", 100_000));
}

/** 11 kW, no less, for 10 minutes at substation-1: one such session fills an 11 kW grid's substation. */
export const fillingSubstation1 = (vehicleId: string, waitS?: number) => ({
  vehicleId,
  maxKw: 11,
  minKw: 11,
  durationS: 600,
  substationId: "substation-1",
  ...(waitS === undefined ? {} : { waitS }),
});

type Grid = Awaited<ReturnType<typeof startReplicas>>;

/** Waits until each replica's stateInfo says `state`, e.g. trusted again: `{ storeUp: true, storeRebuilding: false }`. */
export async function untilState(
  grid: Grid,
  state: Record<string, boolean>,
  opts: { replicas?: number[]; timeoutMs?: number } = {},
) {
  for (const i of opts.replicas ?? [0, 1])
    await eventually(async () => expect(await grid.operator(i).stateInfo.query()).toMatchObject(state), {
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
}

/** Waits until every replica sees substation-1 holding `kw` (its load refresh): a request placed by load then knows. */
export async function untilSeen(grid: Grid, kw: number, replicas = [0, 1]) {
  for (const i of replicas)
    await eventually(async () => {
      const view = await grid.operator(i).listSubstations.query();
      expect(view.find((s) => s.substationId === "substation-1")?.load?.allocatedKw).toBe(kw);
    });
}

/** A dispatch's outcome as one string: "admitted at <substation>", or the reason it was refused. */
export const outcomeOf = (dispatch: Promise<{ session: { substationId: string } }>) =>
  dispatch.then(
    (r) => `admitted at ${r.session.substationId}`,
    (err: unknown) => errorDataOf(err)?.reason,
  );
