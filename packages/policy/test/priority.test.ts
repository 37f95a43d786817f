import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Demand, shareFairly } from "../src/index.ts";

const EPS = 1e-6;
const demand = fc
  .record({
    minKw: fc.double({ min: 1, max: 20, noNaN: true }),
    span: fc.double({ min: 0, max: 150, noNaN: true }),
    weight: fc.constantFrom(1, 2, 4),
  })
  .map(({ minKw, span, weight }) => ({ minKw, maxKw: minKw + span, weight }));
const site = fc.record({
  demands: fc.array(demand, { minLength: 1, maxLength: 30 }),
  spare: fc.double({ min: 0, max: 2000, noNaN: true }),
});

describe("priority weights in water-filling", () => {
  test("property: never over the power available, every minimum kept, no maximum exceeded", () => {
    fc.assert(
      fc.property(site, ({ demands, spare }) => {
        const available = demands.reduce((s, d) => s + d.minKw, 0) + spare;
        const shares = shareFairly(demands, available);
        expect(shares.reduce((s, x) => s + x, 0)).toBeLessThanOrEqual(available + EPS);
        demands.forEach((d, i) => {
          expect(shares[i] as number).toBeGreaterThanOrEqual(d.minKw - EPS);
          expect(shares[i] as number).toBeLessThanOrEqual(d.maxKw + EPS);
        });
      }),
    );
  });

  test("property: equal weights give exactly today's (unweighted) shares", () => {
    fc.assert(
      fc.property(site, fc.constantFrom(1, 2, 3.5, 4), ({ demands, spare }, w) => {
        const available = demands.reduce((s, d) => s + d.minKw, 0) + spare;
        const unweighted = demands.map(({ minKw, maxKw }): Demand => ({ minKw, maxKw }));
        const weighted = demands.map(({ minKw, maxKw }): Demand => ({ minKw, maxKw, weight: w }));
        const a = shareFairly(unweighted, available);
        const b = shareFairly(weighted, available);
        for (const [i, x] of a.entries()) expect(b[i] as number).toBeCloseTo(x, 9);
      }),
    );
  });

  test("property: with the same limits, a higher weight never gets less than a lower one", () => {
    fc.assert(
      fc.property(site, demand, ({ demands, spare }, pair) => {
        const low = { minKw: pair.minKw, maxKw: pair.maxKw, weight: 1 };
        const high = { minKw: pair.minKw, maxKw: pair.maxKw, weight: 4 };
        const all = [...demands, low, high];
        const available = all.reduce((s, d) => s + d.minKw, 0) + spare;
        const shares = shareFairly(all, available);
        expect(shares.at(-1) as number).toBeGreaterThanOrEqual((shares.at(-2) as number) - EPS);
      }),
    );
  });

  test("above the minimums, shares are proportional to weight until a maximum caps them", () => {
    // 30 kW for a fleet car (weight 2) and a standard one: 1.4 kW minimums, 22 kW maximums -> 20 and 10.
    expect(
      shareFairly(
        [
          { minKw: 1.4, maxKw: 22, weight: 2 },
          { minKw: 1.4, maxKw: 22, weight: 1 },
        ],
        30,
      ),
    ).toEqual([20, 10]);
    // The fleet car capped at 11: the rest goes to the other.
    expect(
      shareFairly(
        [
          { minKw: 1.4, maxKw: 11, weight: 2 },
          { minKw: 1.4, maxKw: 22, weight: 1 },
        ],
        30,
      ),
    ).toEqual([11, 19]);
  });
});
