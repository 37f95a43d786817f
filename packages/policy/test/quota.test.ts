import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkSessionQuota, exceedsEverySite, takeToken } from "../src/quota.ts";

describe("token bucket", () => {
  const limit = { ratePerS: 10, burst: 20 };

  test("a new caller may burst, then is held to the rate", () => {
    let bucket: Parameters<typeof takeToken>[0];
    let allowed = 0;
    for (let i = 0; i < 30; i++) {
      const d = takeToken(bucket, limit, 0);
      bucket = d.bucket;
      if (d.allowed) allowed += 1;
    }
    expect(allowed).toBe(20);
    const refused = takeToken(bucket, limit, 0);
    expect(refused).toMatchObject({ allowed: false });
    expect(refused.retryAfterMs).toBeCloseTo(100);
    expect(takeToken(bucket, limit, 100).allowed).toBe(true);
  });

  test("over any window, no more than burst + rate x time is let through", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 300 }), (gapsMs) => {
        let bucket: Parameters<typeof takeToken>[0];
        let nowMs = 0;
        let allowed = 0;
        for (const gap of gapsMs) {
          nowMs += gap;
          const d = takeToken(bucket, limit, nowMs);
          bucket = d.bucket;
          if (d.allowed) allowed += 1;
        }
        return allowed <= limit.burst + (limit.ratePerS * nowMs) / 1000 + 1e-9;
      }),
    );
  });
});

describe("session quota", () => {
  const quota = { maxActiveSessions: 3, maxGridShare: 0.5 };

  test("counts sessions", () => {
    expect(checkSessionQuota({ activeSessions: 2, committedMinKw: 8.4 }, 4.2, quota, 300)).toEqual({
      ok: true,
    });
    expect(checkSessionQuota({ activeSessions: 3, committedMinKw: 12.6 }, 4.2, quota, 300)).toEqual({
      ok: false,
      quota: "active_sessions",
      limit: 3,
    });
  });

  test("counts promised power against the grid's capacity: one caller cannot take the whole grid", () => {
    // Three 150 kW sites: a first 150 kW minimum fits in half the grid, a second does not.
    expect(checkSessionQuota({ activeSessions: 0, committedMinKw: 0 }, 150, quota, 450)).toEqual({
      ok: true,
    });
    expect(checkSessionQuota({ activeSessions: 1, committedMinKw: 150 }, 150, quota, 450)).toEqual({
      ok: false,
      quota: "grid_share",
      limit: 0.5,
      limitKw: 225,
    });
  });

  test("with no capacity known, or a share of the whole grid, the share is left to the dispatch", () => {
    expect(checkSessionQuota({ activeSessions: 0, committedMinKw: 0 }, 150, quota, 0)).toEqual({ ok: true });
    const whole = { maxActiveSessions: 3, maxGridShare: 1 };
    expect(checkSessionQuota({ activeSessions: 1, committedMinKw: 4.2 }, 4.2, whole, 4.2)).toEqual({
      ok: true,
    });
  });
});

describe("exceedsEverySite", () => {
  test("only a minimum above every site's capacity can never fit", () => {
    expect(exceedsEverySite([150, 50], 350)).toBe(true);
    expect(exceedsEverySite([150, 50], 150)).toBe(false);
    expect(exceedsEverySite([], 350)).toBe(false);
  });
});
