/**
 * Waiting for capacity (waitS) is bounded per caller, fair to those that fit, and never admits a caller that
 * hung up. Real processes. The 5,000-waiter flood is in test/load/wait-flood.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, metricValue, startDev } from "@evgrid/testing";
import { allSessions, mutation, reasonOf } from "./http.ts";

setDefaultTimeout(60_000);

type Dev = Awaited<ReturnType<typeof startDev>>;

describe("waiting, one caller at a time", () => {
  let dev: Dev;
  beforeAll(async () => {
    dev = await startDev(["--random-ports", "--capacities", "150,150"]);
  });
  afterAll(() => dev?.[Symbol.asyncDispose]());

  const operator = () => ({ bearer: dev.urls.serviceToken });

  /**
   * One 150 kW session on each site, until the test frees them: an operator's, so no quota is spent on them.
   * The test decides when power frees up, not a clock (a slow machine must not let a site free up early).
   */
  async function fillBothSites(prefix: string, extra: { waitS?: number }) {
    const grants: { sessionId: string; sessionSecret?: string }[] = [];
    for (const v of [`${prefix}-1`, `${prefix}-2`]) {
      const r = await mutation(
        dev.urls.chargeApi,
        "requestCharge",
        { vehicleId: v, minKw: 150, maxKw: 150, durationS: 600, ...extra },
        operator(),
      );
      expect({ status: r.status, reason: reasonOf(r) }).toEqual({ status: 200, reason: undefined });
      grants.push(r.json.result.data);
    }
    return () => Promise.all(grants.map((g) => free(g)));
  }

  async function free(grant: { sessionId: string; sessionSecret?: string }) {
    const { sessionId, sessionSecret } = grant;
    const ref = sessionSecret === undefined ? { sessionId } : { sessionId, sessionSecret };
    const r = await mutation(dev.urls.chargeApi, "stopCharge", ref, operator());
    expect(r.status).toBe(200);
  }

  /** Requests waiting at the balancer (its gauge): what a test waits for before it acts on a waiter. */
  const waiting = async () => {
    const res = await fetch(`${dev.urls.balancer}/metrics`, {
      headers: { authorization: `Bearer ${dev.urls.serviceToken}` },
    });
    return metricValue(await res.text(), "evgrid_balancer_waiting_requests");
  };
  const untilWaiting = (n: number) =>
    eventually(async () => expect(await waiting()).toBe(n), { timeoutMs: 20_000 });

  test("one caller may keep only so many requests waiting (QUOTA_WAITING, 10 by default)", async () => {
    const api = dev.urls.chargeApi;
    // Both sites full (this test runs first, on an empty grid).
    const freeWall = await fillBothSites("wall", {});
    // Fifteen that would wait up to 30 s: ten wait, five are refused at once, whatever the order they came in.
    const hangUp = new AbortController();
    const answered: Awaited<ReturnType<typeof mutation>>[] = [];
    const waiters = Array.from({ length: 15 }, (_, i) =>
      mutation(api, "requestCharge", { vehicleId: `q-${i}`, waitS: 30, durationS: 5 }, {}, hangUp.signal)
        .then((a) => void answered.push(a))
        .catch(() => {}),
    );
    await eventually(() => expect(answered).toHaveLength(5), { timeoutMs: 20_000 });
    await untilWaiting(10);
    for (const a of answered) {
      expect(reasonOf(a)).toBe("QUOTA_EXCEEDED");
      expect(a.json.error.data.details).toMatchObject({ quota: "waiting", limit: 10 });
    }
    // The ten hang up: they leave the queue, and nothing else was answered meanwhile.
    hangUp.abort();
    await Promise.all(waiters);
    await untilWaiting(0);
    expect(answered).toHaveLength(5);
    await freeWall();
  });

  test("a waiter whose caller hangs up leaves the queue and is never admitted", async () => {
    const api = dev.urls.chargeApi;
    const freeBig = await fillBothSites("big", { waitS: 5 });
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const gone = controllers.map((c, i) =>
      fetch(`${api}/trpc/requestCharge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ vehicleId: `gone-${i}`, waitS: 10, durationS: 60 }),
        signal: c.signal,
      }).catch(() => "hung up"),
    );
    await untilWaiting(5); // all five queued before they hang up
    for (const c of controllers) c.abort();
    expect(await Promise.all(gone)).toEqual(Array(5).fill("hung up"));
    await untilWaiting(0);
    // Power frees up; a caller still waiting gets it, the ones that left get nothing.
    const stayed = mutation(api, "requestCharge", { vehicleId: "stayed", waitS: 30, durationS: 1 });
    await untilWaiting(1);
    await freeBig();
    expect((await stayed).status).toBe(200);
    // Admitting "stayed" was the pump that would have served the ones that left: nothing after it can.
    const left = (await allSessions(dev)).filter((s) => s.vehicleId.startsWith("gone-"));
    expect(left).toEqual([]);
  });

  test("a minimum no site can ever supply is refused at once; one that cannot fit yet does not block others", async () => {
    const api = dev.urls.chargeApi;
    // Refused, not queued: a waiter would have been answered differently (and only after its wait).
    const never = await mutation(api, "requestCharge", {
      vehicleId: "huge",
      minKw: 350,
      maxKw: 350,
      waitS: 20,
    });
    expect(never.status).toBe(422);
    expect(reasonOf(never)).toBe("EXCEEDS_SITE_CAPACITY");
    expect(await waiting()).toBe(0);

    const halves: { sessionId: string; sessionSecret?: string }[] = [];
    for (const v of ["half-1", "half-2"]) {
      const r = await mutation(
        api,
        "requestCharge",
        { vehicleId: v, minKw: 20, maxKw: 20, durationS: 600 },
        operator(),
      );
      halves.push(r.json.result.data);
    }
    // 140 kW fits nowhere until a 20 kW session ends; it waits, and an 11 kW car behind it goes straight in.
    const big = mutation(
      api,
      "requestCharge",
      { vehicleId: "big-wait", minKw: 140, maxKw: 140, waitS: 30, durationS: 1 },
      operator(),
    );
    await untilWaiting(1);
    const small = await mutation(api, "requestCharge", {
      vehicleId: "small",
      maxKw: 11,
      waitS: 30,
      durationS: 1,
    });
    expect(small.status).toBe(200);
    expect(await waiting()).toBe(1); // admitted past the big one, which still waits
    await free(halves[0] as { sessionId: string });
    expect((await big).status).toBe(200);
  });
});
