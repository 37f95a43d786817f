import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  laxityS,
  type NeedDemand,
  needFloors,
  projectAtDeparture,
  requiredKw,
  shareByNeed,
  standing,
} from "../src/deadline.ts";
import { nextLaxityCrossingS, nextStandingChangeS } from "../src/laxity.ts";
import { reshareSite } from "../src/site-step.ts";
import { shareFairly } from "../src/water-filling.ts";

const EPS = 1e-6;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A session: AC or DC bounds, a priority weight, and (maybe) energy left by a departure. */
const demandArb = (deadlines: boolean) =>
  fc
    .record({
      maxKw: fc.double({ min: 1.4, max: 350, noNaN: true }),
      minFraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
      weight: fc.constantFrom(1, 2, 4),
      deadline: deadlines
        ? fc.option(
            fc.record({
              energyLeftKwh: fc.double({ min: 0, max: 200, noNaN: true }),
              departInS: fc.double({ min: 0, max: 7 * 86_400, noNaN: true }),
            }),
          )
        : fc.constant(null),
    })
    .map(
      ({ maxKw, minFraction, weight, deadline }): NeedDemand => ({
        maxKw,
        minKw: Math.max(0.1, maxKw * minFraction),
        weight,
        ...(deadline ?? {}),
      }),
    );

/** A site whose capacity covers the minimums (admission guarantees that). */
const siteArb = (deadlines: boolean) =>
  fc.array(demandArb(deadlines), { minLength: 1, maxLength: 40 }).chain((demands) =>
    fc.record({
      demands: fc.constant(demands),
      availableKw: fc.double({
        min: sum(demands.map((d) => d.minKw)),
        max: sum(demands.map((d) => d.maxKw)) * 1.5,
        noNaN: true,
      }),
    }),
  );

describe("shareByNeed", () => {
  test("two cars, one leaving in an hour, one in eight: the early one is served first, to its maximum", () => {
    // 20 kWh each, 30 kW site: equal shares (15 each) would leave the early car 5 kWh short at 1 h.
    // Both can make it with slack: earliest departure first, front-loaded to its maximum (22), the rest (8).
    const early = { minKw: 4.2, maxKw: 22, energyLeftKwh: 20, departInS: 3600 };
    const late = { minKw: 4.2, maxKw: 22, energyLeftKwh: 20, departInS: 8 * 3600 };
    const [earlyKw, lateKw] = shareByNeed([early, late], 30) as [number, number];
    expect(earlyKw).toBeCloseTo(22, 9);
    expect(lateKw).toBeCloseTo(8, 9); // 2.5 kW would do for it
    expect(shareFairly([early, late], 30)).toEqual([15, 15]);
    expect(
      projectAtDeparture({ targetKwh: 20, deliveredKwh: 0, departInS: 3600, allocatedKw: earlyKw }).onTrack,
    ).toBe(true);
  });

  test("without deadlines it is exactly today's water-filling", () => {
    fc.assert(
      fc.property(siteArb(false), ({ demands, availableKw }) => {
        expect(shareByNeed(demands, availableKw)).toEqual(shareFairly(demands, availableKw));
      }),
    );
  });

  test("floors follow the need order (standing, higher weight, earlier departure) as a full sort would", () => {
    // needFloors orders each standing with a heap and stops when the power runs out; a plain sort of every
    // session must lift the same sessions by the same amounts.
    const byNeed = (demands: readonly NeedDemand[], availableKw: number, guardS: number) => {
      const floors = demands.map((d) => d.minKw);
      let spareKw = availableKw - sum(floors);
      const order = demands
        .map((d, i) => ({ d, i, rank: standing(d, guardS) }))
        .filter((x) => x.rank !== null)
        .sort(
          (a, b) =>
            (a.rank as number) - (b.rank as number) ||
            (b.d.weight ?? 1) - (a.d.weight ?? 1) ||
            (a.d.departInS ?? 0) - (b.d.departInS ?? 0) ||
            a.i - b.i,
        );
      for (const { d, i, rank } of order) {
        if (spareKw <= 0) break;
        const toKw = rank === 0 ? Math.min(d.maxKw, requiredKw(d) ?? 0) : d.maxKw;
        floors[i] = d.minKw + Math.max(0, Math.min(toKw - d.minKw, spareKw));
        spareKw -= (floors[i] as number) - d.minKw;
      }
      return floors;
    };
    fc.assert(
      fc.property(siteArb(true), fc.double({ min: 0, max: 60, noNaN: true }), (site, guardS) => {
        const floors = needFloors(site.demands, site.availableKw, guardS);
        byNeed(site.demands, site.availableKw, guardS).forEach((kw, i) => {
          expect(floors[i] as number).toBeCloseTo(kw, 6);
        });
        // The site step shares from the same floors, and says so by its shares.
        const step = reshareSite({ capacityKw: site.availableKw, limitKw: null }, site.demands, guardS);
        step.sharesKw.forEach((kw, i) => {
          expect(kw).toBeCloseTo(shareByNeed(site.demands, site.availableKw, guardS)[i] as number, 6);
        });
      }),
    );
  });

  test("never over the power, every minimum kept, nobody above its maximum", () => {
    fc.assert(
      fc.property(siteArb(true), ({ demands, availableKw }) => {
        const shares = shareByNeed(demands, availableKw);
        expect(sum(shares)).toBeLessThanOrEqual(availableKw + EPS);
        shares.forEach((kw, i) => {
          const d = demands[i] as NeedDemand;
          expect(kw).toBeGreaterThanOrEqual(d.minKw - EPS);
          expect(kw).toBeLessThanOrEqual(d.maxKw + EPS);
        });
      }),
    );
  });

  test("work-conserving: power is left unused only when everyone has their maximum", () => {
    fc.assert(
      fc.property(siteArb(true), ({ demands, availableKw }) => {
        const shares = shareByNeed(demands, availableKw);
        const below = shares.some((kw, i) => kw < (demands[i] as NeedDemand).maxKw - EPS);
        if (below) expect(sum(shares)).toBeCloseTo(availableKw, 6);
      }),
    );
  });

  test("a car that can make its departure, out of slack, is never starved by one that cannot", () => {
    fc.assert(
      fc.property(
        siteArb(true),
        fc.double({ min: 0, max: 60, noNaN: true }),
        ({ demands, availableKw }, guardS) => {
          const shares = shareByNeed(demands, availableKw, guardS);
          const floors = needFloors(demands, availableKw, guardS);
          const cannotLifted = demands.some(
            (b, j) => standing(b, guardS) === 1 && (floors[j] as number) > b.minKw + EPS,
          );
          if (!cannotLifted) return;
          demands.forEach((a, i) => {
            // Out of slack: it gets what keeps it on time before one that cannot make it gets anything more.
            if (standing(a, guardS) !== 0) return;
            const wantKw = Math.min(a.maxKw, Math.max(a.minKw, requiredKw(a) ?? 0));
            expect(shares[i] as number).toBeGreaterThanOrEqual(wantKw - EPS);
          });
        },
      ),
    );
  });

  test("a higher class is never worse off than a lower one with the same needs", () => {
    fc.assert(
      fc.property(siteArb(true), demandArb(true), fc.nat(), ({ demands, availableKw }, twin, at) => {
        const lower = { ...twin, weight: 1 };
        const higher = { ...twin, weight: 2 };
        const all = [...demands];
        all.splice(at % (all.length + 1), 0, lower, higher);
        const site = availableKw + lower.minKw + higher.minKw;
        const shares = shareByNeed(all, site);
        const lo = shares[all.indexOf(lower)] as number;
        const hi = shares[all.indexOf(higher)] as number;
        expect(hi).toBeGreaterThanOrEqual(lo - EPS);
      }),
    );
  });
});

describe("projectAtDeparture", () => {
  test("what it will have at this power by its departure, never above its target", () => {
    expect(projectAtDeparture({ targetKwh: 30, deliveredKwh: 5, departInS: 3600, allocatedKw: 11 })).toEqual({
      projectedKwh: 16,
      onTrack: false,
    });
    expect(projectAtDeparture({ targetKwh: 30, deliveredKwh: 5, departInS: 7200, allocatedKw: 22 })).toEqual({
      projectedKwh: 30,
      onTrack: true,
    });
  });
});

describe("nextLaxityCrossingS", () => {
  test("the car charging slower overtakes the other in laxity, and then the order is re-shared", () => {
    // a: 1 h left, 10 kWh at 20 kW max = 0.5 h needed, laxity 1800 s, at its max (laxity constant).
    // b: 2 h left, 20 kWh at 20 kW max, laxity 3600 s, at 10 kW: laxity falls 0.5 s per s.
    const a = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 3600 };
    const b = { minKw: 1, maxKw: 20, energyLeftKwh: 20, departInS: 7200 };
    expect(nextLaxityCrossingS([a, b], [20, 10])).toBeCloseTo(3600, 6);
    expect(nextLaxityCrossingS([a, b], [20, 20])).toBe(Number.POSITIVE_INFINITY);
  });

  test("the soonest of every pair's crossing and every laxity reaching 0, with few slopes or many", () => {
    // Brute force over all pairs: one behind (more laxity) catches one ahead if it falls faster.
    const bruteForce = (demands: readonly NeedDemand[], shares: readonly number[]) => {
      const lanes = demands.flatMap((d, i) =>
        d.departInS === undefined || (d.energyLeftKwh ?? 0) <= 0
          ? []
          : [{ laxity: laxityS(d) as number, slope: Math.min(0, (shares[i] as number) / d.maxKw - 1) }],
      );
      let soonest = Number.POSITIVE_INFINITY;
      for (const a of lanes) {
        if (a.laxity > 0 && a.slope < 0) soonest = Math.min(soonest, a.laxity / -a.slope);
        for (const b of lanes)
          if (b.laxity > a.laxity && b.slope < a.slope)
            soonest = Math.min(soonest, (b.laxity - a.laxity) / (a.slope - b.slope));
      }
      return soonest;
    };
    // Shares drawn from a few levels give few slopes (the pairwise path); any share gives many (the sort).
    const sharesArb = (n: number) =>
      fc.oneof(
        fc.array(fc.constantFrom(0, 0.25, 0.5, 1), { minLength: n, maxLength: n }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
      );
    fc.assert(
      fc.property(
        fc
          .array(demandArb(true), { minLength: 1, maxLength: 40 })
          .chain((demands) => fc.tuple(fc.constant(demands), sharesArb(demands.length))),
        ([demands, fractions]) => {
          const shares = demands.map((d, i) => d.minKw + (fractions[i] as number) * (d.maxKw - d.minKw));
          const expected = bruteForce(demands, shares);
          const t = nextLaxityCrossingS(demands, shares);
          if (expected === Number.POSITIVE_INFINITY) expect(t).toBe(expected);
          else expect(t).toBeCloseTo(expected, 6);
        },
      ),
    );
  });

  test("never in the past, and never without a deadline", () => {
    fc.assert(
      fc.property(siteArb(true), ({ demands, availableKw }) => {
        const t = nextLaxityCrossingS(demands, shareByNeed(demands, availableKw));
        expect(t).toBeGreaterThanOrEqual(0);
        if (!demands.some((d) => d.departInS !== undefined)) expect(t).toBe(Number.POSITIVE_INFINITY);
      }),
    );
  });
});

describe("nextStandingChangeS", () => {
  test("a car with slack runs out of it at the guard; one out of slack falls behind at 0", () => {
    // 1 h left, 10 kWh at 20 kW max = 0.5 h needed: laxity 1800 s. At 10 kW its laxity falls 0.5 s per s.
    const slack = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 3600 };
    expect(nextStandingChangeS([slack], [10], 60)).toBeCloseTo((1800 - 60) / 0.5, 6);
    expect(nextStandingChangeS([slack], [20], 60)).toBe(Number.POSITIVE_INFINITY);
    // Laxity 30 s, inside a 60 s guard: at 10 kW it cannot make it 60 s from now.
    const tight = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 1830 };
    expect(nextStandingChangeS([tight], [10], 60)).toBeCloseTo(60, 6);
    // No departure, or already past hope: time changes nothing.
    expect(nextStandingChangeS([{ minKw: 1, maxKw: 20 }], [1], 60)).toBe(Number.POSITIVE_INFINITY);
    const hopeless = { minKw: 1, maxKw: 20, energyLeftKwh: 30, departInS: 3600 };
    expect(nextStandingChangeS([hopeless], [1], 60)).toBe(Number.POSITIVE_INFINITY);
  });

  test("never in the past, and never without a deadline", () => {
    fc.assert(
      fc.property(
        siteArb(true),
        fc.double({ min: 0, max: 60, noNaN: true }),
        ({ demands, availableKw }, guardS) => {
          const t = nextStandingChangeS(demands, shareByNeed(demands, availableKw, guardS), guardS);
          expect(t).toBeGreaterThanOrEqual(0);
          if (!demands.some((d) => d.departInS !== undefined)) expect(t).toBe(Number.POSITIVE_INFINITY);
        },
      ),
    );
  });
});
