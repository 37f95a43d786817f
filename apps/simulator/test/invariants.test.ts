import { expect, test } from "bun:test";
import { Random } from "../src/arrivals.ts";
import { POLICIES, simulate } from "../src/engine.ts";
import { generateArrivals, parseScenario } from "../src/index.ts";
import type { SessionRecord } from "../src/records.ts";

/**
 * One to three limits from `from` on, each 30 min to 4 h: after the first, half start where the one before
 * ends (back to back), half inside it (nested), at shares from 0 to 1.
 */
function limitsFrom(r: Random, from: number, hh: (m: number) => string) {
  const limits = [];
  let [at, end] = [from, from + 30 * (1 + Math.floor(r.next() * 8))];
  for (let n = 1 + Math.floor(r.next() * 3); n > 0; n--) {
    limits.push({ from: hh(at), to: hh(Math.min(end, 23 * 60 + 30)), share: Math.round(r.next() * 10) / 10 });
    if (end >= 23 * 60) break;
    if (r.next() < 0.5) [at, end] = [end, end + 30 * (1 + Math.floor(r.next() * 8))];
    else [at, end] = [at + 30, Math.max(at + 60, end - 30)];
  }
  return limits;
}

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
      operatorLimits: r.next() < 0.7 ? limitsFrom(r, from, hh) : [],
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
      // At every sample, the lowest limit in force there (limits may touch or nest), read off the scenario;
      // past midnight (the samples go on to the last departure), the next day's.
      for (const s of result.substations) {
        const capKw = s.capacityKw;
        s.power.forEach((kw, i) => {
          const t = i * scenario.sampleMin;
          const m = t % (24 * 60);
          const shares = scenario.operatorLimits
            .filter((l) => l.from <= m && m < l.to && (l.substations ?? [s.id]).includes(s.id))
            .map((l) => l.share);
          const limitKw = shares.length === 0 ? null : capKw * Math.min(...shares);
          const at = { ...context, site: s.id, t };
          expect({ ...at, limitKw: s.limit[i] }).toEqual({ ...at, limitKw });
          expect({ ...at, over: kw > (limitKw ?? capKw) + 1e-6 }).toEqual({ ...at, over: false });
        });
      }
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
