import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type NeedDemand,
  needFloors,
  projectAtDeparture,
  requiredKw,
  shareByNeed,
  standing,
} from "../src/deadline.ts";
import { reshareSite } from "../src/site-step.ts";
import { shareFairly } from "../src/water-filling.ts";
import { demandArb, siteArb } from "./need-arbitraries.ts";

const EPS = 1e-6;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

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
      let spareKw = availableKw - sum(demands.map((d) => (d.count ?? 1) * d.minKw));
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
        const n = d.count ?? 1;
        if (spareKw <= 0) break;
        if (n === 0) continue;
        const toKw = rank === 0 ? Math.min(d.maxKw, requiredKw(d) ?? 0) : d.maxKw;
        floors[i] = d.minKw + Math.max(0, Math.min(toKw - d.minKw, spareKw / n));
        spareKw -= n * ((floors[i] as number) - d.minKw);
      }
      return floors;
    };
    // Sessions by class too (a substation's power classes): a count of 0 to 3 sessions alike.
    const classes = siteArb(true).chain(({ demands, availableKw }) =>
      fc.record({
        demands: fc.tuple(...demands.map((d) => fc.nat(3).map((count) => ({ ...d, count })))),
        availableKw: fc.constant(availableKw),
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(siteArb(true), classes),
        fc.double({ min: 0, max: 60, noNaN: true }),
        (site, guardS) => {
          const floors = needFloors(site.demands, site.availableKw, guardS);
          byNeed(site.demands, site.availableKw, guardS).forEach((kw, i) => {
            expect(floors[i] as number).toBeCloseTo(kw, 6);
          });
          // The site step shares from the same floors, and says so by its shares (a class of no session
          // has no share to compare).
          const step = reshareSite({ capacityKw: site.availableKw, limitKw: null }, site.demands, guardS);
          const byNeedKw = shareByNeed(site.demands, site.availableKw, guardS);
          step.sharesKw.forEach((kw, i) => {
            if ((site.demands[i] as NeedDemand).count !== 0) expect(kw).toBeCloseTo(byNeedKw[i] as number, 6);
          });
        },
      ),
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
