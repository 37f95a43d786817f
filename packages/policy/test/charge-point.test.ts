import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type ConnectorDemand, chargePointCaps, fitsChargePoint } from "../src/charge-point.ts";

const demandArb = fc
  .record({
    maxKw: fc.double({ min: 1, max: 350, noNaN: true }),
    minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ maxKw, minFraction }): ConnectorDemand => ({ maxKw, minKw: Math.max(1, maxKw * minFraction) }));
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe("chargePointCaps", () => {
  test("a 22 kW charge point's four walk-ins get 5.5 kW each; one alone gets its maximum", () => {
    const walkIn = { minKw: 4.2, maxKw: 22 };
    expect(chargePointCaps(22, [walkIn, walkIn, walkIn, walkIn])).toEqual([5.5, 5.5, 5.5, 5.5]);
    expect(chargePointCaps(22, [{ minKw: 4.2, maxKw: 11 }])).toEqual([11]);
    expect(chargePointCaps(11, [{ minKw: 4.2, maxKw: 50 }])).toEqual([11]);
  });

  test("minimums that do not fit: null (not admitted)", () => {
    const walkIn = { minKw: 4.2, maxKw: 11 };
    expect(chargePointCaps(11, [walkIn, walkIn, walkIn])).toBeNull();
    expect(fitsChargePoint(11, [walkIn, walkIn])).toBe(true);
  });

  test("property: caps add up to at most the charge point's maximum, each within its bounds", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 400, noNaN: true }),
        fc.array(demandArb, { maxLength: 20 }),
        (maxKw, demands) => {
          const caps = chargePointCaps(maxKw, demands);
          if (!fitsChargePoint(maxKw, demands)) return caps === null;
          if (caps === null) return false;
          expect(sum(caps)).toBeLessThanOrEqual(maxKw + 1e-9);
          caps.forEach((cap, i) => {
            const d = demands[i] as ConnectorDemand;
            expect(cap).toBeGreaterThanOrEqual(d.minKw);
            expect(cap).toBeLessThanOrEqual(Math.min(d.maxKw, maxKw) + 1e-9);
          });
          // Nothing left unused that someone below its maximum could take (to the watt).
          const slackKw = maxKw - sum(caps);
          const someoneWants = caps.some(
            (cap, i) => cap < Math.min((demands[i] as ConnectorDemand).maxKw, maxKw) - 1e-3,
          );
          if (someoneWants) expect(slackKw).toBeLessThanOrEqual(demands.length * 1e-3 + 1e-9);
          return true;
        },
      ),
    );
  });
});
