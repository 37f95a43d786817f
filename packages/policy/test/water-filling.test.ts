import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Demand, shareFairly } from "../src/water-filling.ts";
import { coveringSite } from "./need-arbitraries.ts";

const EPS = 1e-6;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Sessions with realistic bounds: AC and DC, min <= max. */
const demandArb = fc
  .record({
    maxKw: fc.double({ min: 1.4, max: 350, noNaN: true }),
    minFraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
  })
  .map(({ maxKw, minFraction }): Demand => ({ maxKw, minKw: Math.max(0.1, maxKw * minFraction) }));

const siteArb = coveringSite(demandArb, 60);

describe("shareFairly", () => {
  test("everyone gets their maximum when power is plentiful", () => {
    expect(
      shareFairly(
        [
          { minKw: 4.2, maxKw: 11 },
          { minKw: 4.2, maxKw: 22 },
        ],
        100,
      ),
    ).toEqual([11, 22]);
  });

  test("equal sessions split the power equally", () => {
    expect(
      shareFairly(
        [
          { minKw: 4.2, maxKw: 11 },
          { minKw: 4.2, maxKw: 11 },
          { minKw: 4.2, maxKw: 11 },
        ],
        21,
      ),
    ).toEqual([7, 7, 7]);
  });

  test("a small maximum is capped and the rest goes to the others", () => {
    // 50 kW: the 3.7 kW car is capped, the two others share 46.3 equally.
    const shares = shareFairly(
      [
        { minKw: 1.4, maxKw: 3.7 },
        { minKw: 4.2, maxKw: 50 },
        { minKw: 4.2, maxKw: 50 },
      ],
      50,
    );
    expect(shares[0]).toBeCloseTo(3.7, 9);
    expect(shares[1]).toBeCloseTo(23.15, 9);
    expect(shares[2]).toBeCloseTo(23.15, 9);
  });

  test("a high minimum is honoured even above the fair level", () => {
    // DC session with a 40 kW floor next to two AC cars on a 60 kW site.
    const shares = shareFairly(
      [
        { minKw: 40, maxKw: 150 },
        { minKw: 4.2, maxKw: 22 },
        { minKw: 4.2, maxKw: 22 },
      ],
      60,
    );
    expect(shares).toEqual([40, 10, 10]);
  });

  test("minimums over the power (after an operator cut) give everyone the minimum", () => {
    expect(
      shareFairly(
        [
          { minKw: 4.2, maxKw: 11 },
          { minKw: 4.2, maxKw: 11 },
        ],
        5,
      ),
    ).toEqual([4.2, 4.2]);
  });

  test("no sessions, no shares", () => {
    expect(shareFairly([], 100)).toEqual([]);
  });

  test("property: shares never exceed the power, nobody below min or above max", () => {
    fc.assert(
      fc.property(siteArb, ({ demands, availableKw }) => {
        const shares = shareFairly(demands, availableKw);
        expect(sum(shares)).toBeLessThanOrEqual(availableKw + EPS);
        demands.forEach((d, i) => {
          expect(shares[i]).toBeGreaterThanOrEqual(d.minKw - EPS);
          expect(shares[i]).toBeLessThanOrEqual(d.maxKw + EPS);
        });
      }),
      { numRuns: 500 },
    );
  });

  test("property: no power is left unused while someone could take more", () => {
    fc.assert(
      fc.property(siteArb, ({ demands, availableKw }) => {
        const shares = shareFairly(demands, availableKw);
        const expected = Math.min(availableKw, sum(demands.map((d) => d.maxKw)));
        expect(sum(shares)).toBeCloseTo(expected, 6);
      }),
      { numRuns: 500 },
    );
  });

  test("property: max-min fair (a session below another is capped, or the other is at its floor)", () => {
    fc.assert(
      fc.property(siteArb, ({ demands, availableKw }) => {
        const shares = shareFairly(demands, availableKw);
        for (let i = 0; i < demands.length; i++) {
          for (let j = 0; j < demands.length; j++) {
            const si = shares[i] as number;
            const sj = shares[j] as number;
            if (si + EPS < sj) {
              // i could only gain by taking from j; that is fair only if i is at its max or j at its min.
              const iCapped = si >= (demands[i] as Demand).maxKw - EPS;
              const jAtFloor = sj <= (demands[j] as Demand).minKw + EPS;
              expect(iCapped || jAtFloor).toBe(true);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("shareFairly by class", () => {
  test("a class of n identical sessions gets what n separate sessions would", () => {
    fc.assert(
      fc.property(siteArb, fc.integer({ min: 1, max: 50 }), ({ demands, availableKw }, n) => {
        const classes = demands.map((d) => ({ ...d, count: n }));
        const expanded = demands.flatMap((d) => Array.from({ length: n }, () => d));
        const byClass = shareFairly(classes, availableKw * n);
        const bySession = shareFairly(expanded, availableKw * n);
        demands.forEach((_, i) => {
          expect(byClass[i]).toBeCloseTo(bySession[i * n] as number, 6);
        });
      }),
      { numRuns: 200 },
    );
  });

  test("an empty class takes nothing", () => {
    expect(
      shareFairly(
        [
          { minKw: 4.2, maxKw: 11, count: 0 },
          { minKw: 4.2, maxKw: 22, count: 1 },
        ],
        15,
      ),
    ).toEqual([11, 15]);
  });
});
