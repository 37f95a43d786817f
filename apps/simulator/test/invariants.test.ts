import { expect, test } from "bun:test";
import { Random } from "../src/arrivals.ts";
import { POLICIES, simulate } from "../src/engine.ts";
import { generateArrivals, parseScenario } from "../src/index.ts";
import type { SessionRecord } from "../src/records.ts";

/**
 * Seeded random days (sites, limits, mix, taper, EVSEs all drawn from the seed), every policy, whole
 * histories: controlled policies never draw above a site's capacity or limit; every car is settled once;
 * nobody gets more than it asked; the records add up to the aggregates. The seed is in every failure.
 */
test("invariants over seeded random days, every policy", () => {
  const base = Number(process.env.SIM_SEED ?? 20261202);
  for (let k = 0; k < 12; k++) {
    const seed = base + k;
    const r = new Random(seed);
    const sites = 1 + Math.floor(r.next() * 4);
    const from = 6 * 60 + Math.floor(r.next() * 10) * 60;
    const hh = (m: number) =>
      `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    const scenario = parseScenario({
      name: `random ${seed}`,
      seed,
      substations: Array.from({ length: sites }, (_, i) => ({
        id: `s${i}`,
        capacityKw: 20 + Math.round(r.next() * 200),
      })),
      operatorLimits:
        r.next() < 0.7 ? [{ from: hh(from), to: hh(from + 120), share: Math.round(r.next() * 10) / 10 }] : [],
      arrivals: { perDay: 50 + Math.round(r.next() * 250), peaks: [{ at: "09:00", spreadH: 2, share: 0.6 }] },
      maxWaitMin: Math.round(r.next() * 60),
      ...(r.next() < 0.4 ? { taper: { fromSoc: 0.7 + r.next() * 0.25, stepMin: 5 } } : {}),
      ...(r.next() < 0.4
        ? { evsesPerSite: 1 + Math.floor(r.next() * 20), whenEvsesBusy: r.next() < 0.5 ? "wait" : "leave" }
        : {}),
    });
    const arrivals = generateArrivals(scenario);
    for (const p of POLICIES) {
      const records: SessionRecord[] = [];
      const result = simulate(scenario, arrivals, p, { onSession: (x) => records.push(x) });
      const context = { seed, policy: p.id };
      expect({ ...context, settled: records.length }).toEqual({ ...context, settled: arrivals.length });
      expect({ ...context, ids: new Set(records.map((x) => x.id)).size }).toEqual({
        ...context,
        ids: arrivals.length,
      });
      for (const x of records)
        expect({ ...context, over: x.deliveredKwh > x.askedKwh + 1e-6 }).toEqual({ ...context, over: false });
      const delivered = records.reduce((s, x) => s + x.deliveredKwh, 0);
      expect({ ...context, gap: Math.abs(delivered - result.deliveredKwh) < 1e-6 }).toEqual({
        ...context,
        gap: true,
      });
      if (!p.controlled) continue;
      for (const s of result.substations)
        expect({ ...context, site: s.id, above: s.minutesAboveCapacity + s.minutesAboveLimit }).toEqual({
          ...context,
          site: s.id,
          above: 0,
        });
      expect({ ...context, overKwh: result.overCapacityKwh }).toEqual({ ...context, overKwh: 0 });
    }
  }
});
