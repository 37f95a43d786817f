/**
 * Waiting for capacity (waitS) is bounded per caller, fair to those that fit, and never admits a caller that
 * hung up. Real processes. The 5,000-waiter flood is in test/load/wait-flood.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev } from "@evgrid/testing";
import { allSessions, mutation, reasonOf, timed } from "./http.ts";

setDefaultTimeout(60_000);

type Dev = Awaited<ReturnType<typeof startDev>>;

describe("waiting, one caller at a time", () => {
  let dev: Dev;
  beforeAll(async () => {
    dev = await startDev(["--random-ports", "--capacities", "150,150"]);
  });
  afterAll(() => dev?.[Symbol.asyncDispose]());

  /** One 150 kW session on each site, for 1 s: an operator's, so no quota is spent on them. */
  async function fillBothSites(prefix: string, extra: { waitS?: number }) {
    for (const v of [`${prefix}-1`, `${prefix}-2`]) {
      const r = await mutation(
        dev.urls.chargeApi,
        "requestCharge",
        { vehicleId: v, minKw: 150, maxKw: 150, durationS: 1, ...extra },
        { bearer: dev.urls.serviceToken },
      );
      expect({ status: r.status, reason: reasonOf(r) }).toEqual({ status: 200, reason: undefined });
    }
  }

  test("one caller may keep only so many requests waiting (QUOTA_WAITING, 10 by default)", async () => {
    const api = dev.urls.chargeApi;
    // Both sites full for 1 s (this test runs first, on an empty grid).
    await fillBothSites("wall", {});
    const waiters = Array.from({ length: 15 }, (_, i) =>
      mutation(api, "requestCharge", { vehicleId: `q-${i}`, waitS: 0.5, durationS: 5 }),
    );
    const answers = await Promise.all(waiters);
    const overQuota = answers.filter((a) => reasonOf(a) === "QUOTA_EXCEEDED");
    expect(overQuota).toHaveLength(5);
    for (const a of overQuota)
      expect(a.json.error.data.details).toMatchObject({ quota: "waiting", limit: 10 });
    expect(answers.filter((a) => reasonOf(a) === "GRID_FULL")).toHaveLength(10);
  });

  test("a waiter whose caller hangs up leaves the queue and is never admitted", async () => {
    const api = dev.urls.chargeApi;
    // Both sites full for 1 s from when the last test's sessions have ended.
    await fillBothSites("big", { waitS: 5 });
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const gone = controllers.map((c, i) =>
      fetch(`${api}/trpc/requestCharge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ vehicleId: `gone-${i}`, waitS: 10, durationS: 60 }),
        signal: c.signal,
      }).catch(() => "hung up"),
    );
    await Bun.sleep(300);
    for (const c of controllers) c.abort();
    expect(await Promise.all(gone)).toEqual(Array(5).fill("hung up"));
    // Power frees up at 1 s; a caller still waiting gets it, the ones that left get nothing.
    const stayed = await mutation(api, "requestCharge", { vehicleId: "stayed", waitS: 10, durationS: 1 });
    expect(stayed.status).toBe(200);
    await Bun.sleep(300);
    const left = (await allSessions(dev)).filter((s) => s.vehicleId.startsWith("gone-"));
    expect(left).toEqual([]);
  });

  test("a minimum no site can ever supply is refused at once; one that cannot fit yet does not block others", async () => {
    const api = dev.urls.chargeApi;
    const never = await timed(() =>
      mutation(api, "requestCharge", { vehicleId: "huge", minKw: 350, maxKw: 350, waitS: 20 }),
    );
    expect(never.value.status).toBe(422);
    expect(reasonOf(never.value)).toBe("EXCEEDS_SITE_CAPACITY");
    expect(never.ms).toBeLessThan(500);

    const operator = { bearer: dev.urls.serviceToken };
    for (const v of ["half-1", "half-2"]) {
      await mutation(api, "requestCharge", { vehicleId: v, minKw: 20, maxKw: 20, durationS: 1 }, operator);
    }
    // 140 kW fits nowhere until a 20 kW session ends; it waits, and an 11 kW car behind it goes straight in.
    const big = mutation(
      api,
      "requestCharge",
      { vehicleId: "big-wait", minKw: 140, maxKw: 140, waitS: 10, durationS: 1 },
      operator,
    );
    await Bun.sleep(100);
    const small = await timed(() =>
      mutation(api, "requestCharge", { vehicleId: "small", maxKw: 11, waitS: 10, durationS: 1 }),
    );
    expect(small.value.status).toBe(200);
    expect(small.ms).toBeLessThan(500);
    expect((await big).status).toBe(200);
  });
});
