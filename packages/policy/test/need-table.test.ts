import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { NeedDemand } from "../src/deadline.ts";
import { NeedTable } from "../src/need-table.ts";
import { reshareSite, reshareTable } from "../src/site-step.ts";

const demandArb: fc.Arbitrary<NeedDemand> = fc
  .record({
    maxKw: fc.constantFrom(3.7, 7.4, 11, 22, 50),
    f: fc.double({ min: 0, max: 1, noNaN: true }),
    weight: fc.constantFrom(1, 2, 4),
    deadline: fc.option(
      fc.record({
        energyLeftKwh: fc.double({ min: 0, max: 80, noNaN: true }),
        departInS: fc.double({ min: -60, max: 36_000, noNaN: true }),
      }),
    ),
  })
  .map(({ maxKw, f, weight, deadline }) => ({ minKw: maxKw * f, maxKw, weight, ...(deadline ?? {}) }));

const siteArb = fc.record({
  capacityKw: fc.double({ min: 0, max: 400, noNaN: true }),
  demands: fc.array(demandArb, { maxLength: 60 }),
  guardS: fc.constantFrom(0, 5, 60),
});

describe("a need table kept across re-shares (the simulator's way)", () => {
  test("gives every site the shares, floors, level and crossing a fresh re-share gives, whatever came before", () => {
    fc.assert(
      fc.property(fc.array(siteArb, { minLength: 1, maxLength: 8 }), (sites) => {
        // One table for a run of sites of growing and shrinking sizes: rows a bigger site left behind
        // must never leak into a smaller one.
        const table = new NeedTable();
        for (const { capacityKw, demands, guardS } of sites) {
          const site = { capacityKw, limitKw: null };
          const fresh = reshareSite(site, demands, guardS);
          table.resize(demands.length);
          demands.forEach((d, i) => {
            const deadline = d.energyLeftKwh !== undefined && d.departInS !== undefined;
            table.set(
              i,
              d.minKw,
              d.maxKw,
              d.weight ?? 1,
              1,
              deadline ? (d.energyLeftKwh as number) : Number.NaN,
              deadline ? (d.departInS as number) : Number.NaN,
            );
          });
          const kept = reshareTable(site, table, guardS);
          expect(kept.levelKw).toBe(fresh.levelKw);
          expect(kept.nextCrossingS).toBe(fresh.nextCrossingS);
          expect(Array.from(table.sharesKw.subarray(0, table.size))).toEqual(fresh.sharesKw);
          expect(Array.from(table.floorsKw.subarray(0, table.size))).toEqual(fresh.floorsKw);
        }
      }),
      { numRuns: 300 },
    );
  });
});
