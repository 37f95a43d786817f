import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { GRAIN_S, laxityS, type NeedDemand, shareByNeed } from "../src/deadline.ts";
import { CROSSING_LEAD_S, nextLaxityCrossingS, nextStandingChangeS } from "../src/laxity.ts";
import { demandArb, siteArb } from "./need-arbitraries.ts";

describe("nextLaxityCrossingS", () => {
  test("the car charging slower overtakes the other in laxity, and then the order is re-shared", () => {
    // a: 1 h left, 10 kWh at 20 kW max = 0.5 h needed, laxity 1800 s, at its max (laxity constant).
    // b: 2 h left, 20 kWh at 20 kW max, laxity 3600 s, at 10 kW: laxity falls 0.5 s per s.
    const a = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 3600 };
    const b = { minKw: 1, maxKw: 20, energyLeftKwh: 20, departInS: 7200 };
    expect(nextLaxityCrossingS([a, b], [20, 10])).toBeCloseTo(3600, 6);
    expect(nextLaxityCrossingS([a, b], [20, 20])).toBe(Number.POSITIVE_INFINITY);
  });

  test("two equal laxities falling apart: the one behind them catches the slower, with few slopes or many", () => {
    // Laxities 10, 10, 20 s falling at 0.1, 0.5, 0.9 per s: the third catches the first at 10 / 0.8 = 12.5 s
    // (the second, falling faster, is already below). Seven far-off lanes make it the many-slopes path.
    const car = (laxityS: number) => ({ minKw: 0, maxKw: 1, energyLeftKwh: 1, departInS: 3600 + laxityS });
    const near = [car(10), car(10), car(20)];
    const far = [1, 2, 3, 4, 5, 6, 7].map(() => car(1e6));
    expect(nextLaxityCrossingS(near, [0.9, 0.5, 0.1])).toBeCloseTo(12.5, 6);
    expect(
      nextLaxityCrossingS([...near, ...far], [0.9, 0.5, 0.1, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93]),
    ).toBeCloseTo(12.5, 6);
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
    // Needs on a coarse grid, so laxities tie. A share of a few fractions of the maximum gives few slopes
    // (each slope's run, compared pairwise); any fraction gives many (one sort, neighbours).
    const lane = fc.record({
      minKw: fc.constant(0),
      maxKw: fc.constantFrom(1, 2, 4),
      energyLeftKwh: fc.constantFrom(0, 0.5, 1, 2),
      departInS: fc.constantFrom(0, 1800, 3600, 7200),
    });
    const fractionsArb = (n: number) =>
      fc.oneof(
        fc.array(fc.constantFrom(0, 0.25, 0.5, 1), { minLength: n, maxLength: n }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
      );
    fc.assert(
      fc.property(
        fc
          .oneof(
            fc.array(lane, { minLength: 1, maxLength: 40 }),
            fc.array(demandArb(true), { maxLength: 40 }),
          )
          .chain((demands) => fc.tuple(fc.constant(demands as NeedDemand[]), fractionsArb(demands.length))),
        ([demands, fractions]) => {
          const shares = demands.map((d, i) => (fractions[i] as number) * d.maxKw);
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
  test("a car with slack runs out of it at its crossing, not a guard early; one out of slack falls behind past 0", () => {
    // 1 h left, 10 kWh at 20 kW max = 0.5 h needed: laxity 1800 s. At 10 kW its laxity falls 0.5 s per s.
    const slack = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 3600 };
    expect(nextStandingChangeS([slack], [10], 60)).toBeCloseTo((1800 - CROSSING_LEAD_S) / 0.5, 6);
    // A guard under the lead: the crossing comes when the laxity falls to the guard.
    expect(nextStandingChangeS([slack], [10], 0.1)).toBeCloseTo((1800 - 0.1) / 0.5, 6);
    expect(nextStandingChangeS([slack], [20], 60)).toBe(Number.POSITIVE_INFINITY);
    // Laxity 30 s, inside a 60 s guard: at 10 kW it cannot make it 60 s from now (a grain past 0: two grains
    // at 0.5 s a second).
    const tight = { minKw: 1, maxKw: 20, energyLeftKwh: 10, departInS: 1830 };
    expect(nextStandingChangeS([tight], [10], 60)).toBeCloseTo(60 + 4 * GRAIN_S, 6);
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
