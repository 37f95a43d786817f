/** The charge-api's admission rules, without a socket: a stand-in balancer pool records what reaches it. */
import { describe, expect, test } from "bun:test";
import type { Balancers } from "@evgrid/balancer/pool";
import { type ChargeRequest, chargeRequestSchema, reasons, type Session } from "@evgrid/contract";
import { type Caller, GridError, sessionSecretFor } from "@evgrid/kit";
import { ChargeDesk, type ChargeDeskOptions } from "../src/desk.ts";
import { RateLimiter } from "../src/rate-limit.ts";

const TOKEN = "desk-test-service-token-0123456789abcdef";
const open: Caller = { owner: "addr:203.0.113.9", operator: false };
const fleetKey: Caller = { owner: "key:fleet", operator: false };
const operator: Caller = { owner: "operator", operator: true };

const sessionFor = (req: { vehicleId: string; owner: string; priority?: Session["priority"] }): Session => ({
  sessionId: "s1.0123456789abcdef0123456789abcdef",
  substationId: "s1",
  vehicleId: req.vehicleId,
  minKw: 7,
  maxKw: 22,
  capKw: null,
  allocatedKw: 22,
  status: "active",
  startedAt: new Date(0).toISOString(),
  durationS: 3600,
  energyKwh: null,
  deliveredKwh: 0,
  expectedEndAt: null,
  endedAt: null,
  endReason: null,
  idempotencyKey: null,
  owner: req.owner,
  priority: req.priority ?? "standard",
});

type Dispatched = ChargeRequest & { owner: string; idempotencyKey?: string; newKey?: true };

/**
 * A pool of `replicas` balancers sharing state or not; dispatches wait for `release()` when `hold` is set.
 * `tries`: each call is made that many times, as the pool does when an answer never comes (the last counts).
 */
function fakeBalancers({ replicas = 1, shared = false, hold = false, tries = 1 } = {}) {
  const dispatched: Dispatched[] = [];
  const looked: unknown[] = [];
  const pending: (() => void)[] = [];
  const client = {
    dispatch: {
      mutate: async (req: Dispatched) => {
        dispatched.push(req);
        if (hold) await new Promise<void>((resolve) => pending.push(resolve));
        return { session: sessionFor(req), tries: 1, replayed: false };
      },
    },
    getSession: {
      query: async (ref: { sessionId: string; owner?: string }) => {
        looked.push(ref);
        return sessionFor({ vehicleId: "ev", owner: ref.owner ?? "addr:x", priority: "standard" });
      },
    },
  };
  const pool = {
    count: replicas,
    allShared: shared,
    call: async <T>(fn: (c: typeof client, attempt: number) => Promise<T>) => {
      for (let i = 0; i < tries - 1; i++) await fn(client, i);
      return fn(client, tries - 1);
    },
    pick: () => client,
  } as unknown as Balancers;
  return {
    pool,
    dispatched,
    looked,
    release: () => {
      for (const resolve of pending.splice(0)) resolve();
    },
  };
}

function desk(pool: Balancers, over: Partial<ChargeDeskOptions> = {}) {
  return new ChargeDesk(pool, {
    callTimeoutMs: 5000,
    serviceToken: TOKEN,
    rate: new RateLimiter({ ratePerS: 1000, burst: 1000 }),
    maxWaiting: 10,
    priorities: { "key:fleet": "fleet" },
    watchers: { perCaller: 1, total: 2 },
    ...over,
  });
}

const request = (over: Partial<ChargeRequest> = {}) =>
  chargeRequestSchema.parse({ vehicleId: "ev-1", minKw: 7, maxKw: 22, durationS: 3600, ...over });

/** The refusal a call ends with: its reason and details, as the error formatter will send them. */
async function refusal(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof GridError)) throw new Error(`expected a GridError, got ${String(err)}`);
  return { reason: err.reason, ...err.details };
}

describe("ChargeDesk", () => {
  test("a class above the caller's is refused before the balancer hears of it; its own class passes", async () => {
    const b = fakeBalancers();
    const d = desk(b.pool);
    const data = await refusal(d.requestCharge(fleetKey, request({ priority: "emergency" })));
    expect(data.reason).toBe(reasons.PRIORITY_NOT_ALLOWED);
    expect(await refusal(d.requestCharge(open, request({ priority: "fleet" })))).toMatchObject({
      reason: reasons.PRIORITY_NOT_ALLOWED,
    });
    expect(b.dispatched).toEqual([]);
    await d.requestCharge(fleetKey, request({ priority: "fleet" }));
    await d.requestCharge(operator, request({ priority: "emergency" }));
    expect(b.dispatched.map((r) => [r.owner, r.priority])).toEqual([
      ["key:fleet", "fleet"],
      ["operator", "emergency"],
    ]);
  });

  test("waiting requests are bounded: one past maxWaiting is refused until a waiter is answered", async () => {
    const b = fakeBalancers({ hold: true });
    const d = desk(b.pool, { maxWaiting: 2 });
    const first = [
      d.requestCharge(open, request({ waitS: 60 })),
      d.requestCharge(open, request({ waitS: 60 })),
    ];
    expect(d.waiting).toBe(2);
    expect(await refusal(d.requestCharge(open, request({ waitS: 60 })))).toMatchObject({
      reason: reasons.WAIT_QUEUE_FULL,
    });
    // A request that does not wait is not held to the waiting bound.
    const direct = d.requestCharge(open, request());
    b.release();
    await Promise.all([...first, direct]);
    expect(d.waiting).toBe(0);
    const again = d.requestCharge(open, request({ waitS: 60 }));
    expect(d.waiting).toBe(1);
    b.release();
    await again;
    expect(b.dispatched).toHaveLength(4);
  });

  test("every dispatch carries a key (one made here, so an uncertain answer can hand it back); a caller's own key is kept", async () => {
    const alone = fakeBalancers();
    await desk(alone.pool).requestCharge(open, request());
    expect(alone.dispatched[0]?.idempotencyKey).toMatch(/^auto:[0-9a-f-]{36}$/);
    const shared = fakeBalancers({ replicas: 2, shared: true });
    const d = desk(shared.pool);
    await d.requestCharge(open, request());
    await d.requestCharge(open, request({ idempotencyKey: "mine-1" }));
    expect(shared.dispatched[0]?.idempotencyKey).toMatch(/^auto:[0-9a-f-]{36}$/);
    expect(shared.dispatched[1]?.idempotencyKey).toBe("mine-1");
  });

  test("a key made here goes as new on its first try only (no journal lookup); a caller's key never does", async () => {
    const b = fakeBalancers({ replicas: 2, shared: true, tries: 2 });
    const d = desk(b.pool);
    await d.requestCharge(open, request());
    await d.requestCharge(open, request({ vehicleId: "ev-2", idempotencyKey: "mine-2" }));
    const [first, retry, mine, mineAgain] = b.dispatched;
    expect(first?.idempotencyKey).toMatch(/^auto:/);
    expect(first?.newKey).toBe(true);
    // The retry may follow a try that started the session: the substation must look the key up.
    expect(retry?.idempotencyKey).toBe(first?.idempotencyKey as string);
    expect(retry).not.toHaveProperty("newKey");
    expect(mine).not.toHaveProperty("newKey");
    expect(mineAgain).not.toHaveProperty("newKey");
  });

  test("open mode: the grant carries the session's secret, and only that secret opens the session", async () => {
    const b = fakeBalancers();
    const d = desk(b.pool);
    const grant = await d.requestCharge(open, request());
    expect(grant.sessionSecret).toBe(sessionSecretFor(TOKEN, grant.sessionId));
    expect((await d.requestCharge(fleetKey, request())).sessionSecret).toBeNull();
    const ref = { sessionId: grant.sessionId };
    expect(await refusal(d.getSession(open, ref))).toMatchObject({ reason: reasons.SESSION_FORBIDDEN });
    expect(await refusal(d.getSession(open, { ...ref, sessionSecret: "x".repeat(43) }))).toMatchObject({
      reason: reasons.SESSION_FORBIDDEN,
    });
    expect(b.looked).toEqual([]);
    const seen = await d.getSession(open, { ...ref, sessionSecret: grant.sessionSecret });
    expect(seen).not.toHaveProperty("owner");
    await d.getSession(fleetKey, ref);
    expect(b.looked).toEqual([ref, { ...ref, owner: "key:fleet" }]);
  });

  test("watchers are bounded per caller and in all, and a place is given back when its stream ends", async () => {
    const b = fakeBalancers();
    const d = desk(b.pool);
    const ref = { sessionId: "s1.0123456789abcdef0123456789abcdef" };
    // A stream whose subscription never answers: it holds its place until it is closed.
    (b.pool.pick() as unknown as Record<string, unknown>).watchSession = {
      subscribe: () => ({ unsubscribe() {} }),
    };
    const stop = new AbortController();
    const mine = d.watchSession(fleetKey, ref, stop.signal);
    const next = mine.next();
    await Promise.resolve();
    expect(d.watching).toBe(1);
    expect(await refusal(d.watchSession(fleetKey, ref).next())).toMatchObject({
      quota: "watchers",
      limit: 1,
    });
    const opStop = new AbortController();
    const opNext = d.watchSession(operator, ref, opStop.signal).next();
    await Promise.resolve();
    expect(d.watching).toBe(2);
    expect(await refusal(d.watchSession({ owner: "key:other", operator: false }, ref).next())).toMatchObject({
      quota: "watchers",
      limit: 2,
    });
    stop.abort();
    await next;
    expect(d.watching).toBe(1);
    opStop.abort();
    await opNext;
    expect(d.watching).toBe(0);
  });

  test("watching is refused, named, when the internal calls are not on links", async () => {
    const d = desk(fakeBalancers().pool, { watchers: null });
    expect(await refusal(d.watchSession(operator, { sessionId: "s1.x" }).next())).toMatchObject({
      reason: reasons.WATCH_UNAVAILABLE,
    });
  });
});
