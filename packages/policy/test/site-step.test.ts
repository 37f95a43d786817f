import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { reshareSite, serveWaiters } from "../src/site-step.ts";
import { shareFairly } from "../src/water-filling.ts";

const demandsArb = fc.array(
  fc
    .record({
      maxKw: fc.double({ min: 1.4, max: 350, noNaN: true }),
      f: fc.double({ min: 0.01, max: 1, noNaN: true }),
    })
    .map(({ maxKw, f }) => ({ maxKw, minKw: maxKw * f, weight: 1 })),
  { minLength: 1, maxLength: 30 },
);

describe("the per-site step", () => {
  test("re-share without departures: today's water-filling within min(capacity, limit), no crossing to wait for", () => {
    fc.assert(
      fc.property(
        demandsArb,
        fc.double({ min: 0, max: 5000, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 5000, noNaN: true })),
        (demands, capacityKw, limitKw) => {
          const available = Math.min(capacityKw, limitKw ?? Infinity);
          const minimums = demands.reduce((s, d) => s + d.minKw, 0);
          fc.pre(minimums <= available);
          const r = reshareSite({ capacityKw, limitKw }, demands);
          expect(r.sharesKw).toEqual(shareFairly(demands, available));
          expect(r.nextCrossingS).toBe(Number.POSITIVE_INFINITY);
        },
      ),
    );
  });

  test("the level says whether anybody is held below their maximum, also when departures lift the floors", () => {
    const car = (departInS: number) => ({ minKw: 6, maxKw: 22, energyLeftKwh: 10, departInS });
    // Everyone at their maximum: no level binds (null), as without departures.
    expect(reshareSite({ capacityKw: 22, limitKw: null }, [car(36_000)]).levelKw).toBeNull();
    expect(reshareSite({ capacityKw: 22, limitKw: null }, [{ minKw: 6, maxKw: 22 }]).levelKw).toBeNull();
    // The floors take all the power and one car is below its maximum: only floors fit (0).
    const busy = reshareSite({ capacityKw: 30, limitKw: null }, [car(3600), car(36_000)]);
    expect(busy.levelKw).toBe(0);
    expect(busy.sharesKw).toEqual([22, 8]);
  });

  test("serve waiters: higher class first, then arrival; one that cannot start does not block the others", () => {
    const waiters = [
      { id: "a", seq: 1 },
      { id: "big", seq: 2, priority: "fleet" as const },
      { id: "b", seq: 3 },
    ];
    const tried: string[] = [];
    const started = serveWaiters(waiters, (w) => {
      tried.push(w.id);
      return w.id !== "big";
    });
    expect(tried).toEqual(["big", "a", "b"]);
    expect(started.map((w) => w.id)).toEqual(["a", "b"]);
  });
});
