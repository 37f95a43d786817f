/**
 * The deadline policy over whole histories in virtual time, re-shared as the substation does: at once when a
 * session ends, and when time changes the need order (`nextCrossingS`), no sooner than the re-share gap,
 * which the policy gets as its guard.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { NeedDemand } from "../src/deadline.ts";
import { reshareSite } from "../src/site-step.ts";

interface Car {
  minKw: number;
  maxKw: number;
  /** Energy still wanted, kWh; absent: no departure. */
  leftKwh?: number;
  departInS?: number;
}

const S_PER_H = 3600;
const demandOf = (c: Car): NeedDemand =>
  c.leftKwh === undefined
    ? { minKw: c.minKw, maxKw: c.maxKw }
    : { minKw: c.minKw, maxKw: c.maxKw, energyLeftKwh: c.leftKwh, departInS: c.departInS };

/**
 * Runs the site until `watched` leaves (departure or energy delivered); returns the energy it still wanted
 * then. Cars leave at their departure or when their energy is delivered; each leaving is a re-share.
 */
function runUntilGone(capacityKw: number, cars: Car[], watched: Car, gapS: number): number {
  let live = [...cars];
  for (let step = 0; step < 100_000; step++) {
    const shares = reshareSite({ capacityKw, limitKw: null }, live.map(demandOf), gapS);
    // The next moment anything changes: a departure, an energy reached, or the need order (bounded rate).
    let dtS = Math.max(gapS, shares.nextCrossingS);
    live.forEach((c, i) => {
      const kw = shares.sharesKw[i] as number;
      if (c.departInS !== undefined) dtS = Math.min(dtS, c.departInS);
      if (c.leftKwh !== undefined && kw > 0) dtS = Math.min(dtS, (c.leftKwh * S_PER_H) / kw);
    });
    if (!Number.isFinite(dtS)) return watched.leftKwh ?? 0;
    live.forEach((c, i) => {
      if (c.leftKwh !== undefined) c.leftKwh -= ((shares.sharesKw[i] as number) * dtS) / S_PER_H;
      if (c.departInS !== undefined) c.departInS -= dtS;
    });
    const gone = (c: Car) => (c.departInS ?? 1) <= 1e-9 || (c.leftKwh ?? 1) <= 1e-9;
    if (gone(watched)) return Math.max(0, watched.leftKwh ?? 0);
    live = live.filter((c) => !gone(c));
  }
  throw new Error("history did not end");
}

const hopeless = fc
  .record({
    maxKw: fc.double({ min: 3.7, max: 150, noNaN: true }),
    departInS: fc.double({ min: 60, max: 6 * S_PER_H, noNaN: true }),
    extra: fc.double({ min: 1.05, max: 5, noNaN: true }),
  })
  // More than its maximum could deliver by its departure: it cannot make it.
  .map(
    ({ maxKw, departInS, extra }): Car => ({
      minKw: Math.min(1.4, maxKw),
      maxKw,
      departInS,
      leftKwh: ((maxKw * departInS) / S_PER_H) * extra,
    }),
  );

const noDeadline = fc
  .double({ min: 3.7, max: 50, noNaN: true })
  .map((maxKw): Car => ({ minKw: Math.min(1.4, maxKw), maxKw }));

describe("a car that can make its departure alone", () => {
  test("makes it, whatever cars that cannot make theirs (or have none) share the site with it", () => {
    fc.assert(
      fc.property(
        fc.record({
          maxKw: fc.double({ min: 3.7, max: 150, noNaN: true }),
          departInS: fc.double({ min: 600, max: 8 * S_PER_H, noNaN: true }),
          // How much of what its maximum could deliver by then it wants: up to nearly all of it (all of it
          // exactly is "can make it" only to the last bit of a float, and any rounding makes it not).
          share: fc.double({ min: 0.05, max: 0.999, noNaN: true }),
        }),
        fc.array(hopeless, { minLength: 1, maxLength: 8 }),
        fc.array(noDeadline, { maxLength: 4 }),
        fc.double({ min: 1, max: 120, noNaN: true }),
        fc.double({ min: 0, max: 200, noNaN: true }),
        ({ maxKw, departInS, share }, hopelessCars, walkInCars, gapS, spareKw) => {
          // The run changes the cars: copies, so a failure prints them as they were generated.
          const others = hopelessCars.map((c) => ({ ...c }));
          const walkIns = walkInCars.map((c) => ({ ...c }));
          const watched: Car = {
            minKw: Math.min(1.4, maxKw),
            maxKw,
            departInS,
            leftKwh: ((maxKw * departInS) / S_PER_H) * share,
          };
          const wantedKwh = watched.leftKwh as number;
          const all = [watched, ...others, ...walkIns];
          // Room for every minimum and for its maximum: it can always have what it needs.
          const capacityKw = all.reduce((sum, c) => sum + c.minKw, 0) + (maxKw - watched.minKw) + spareKw;
          const shortKwh = runUntilGone(capacityKw, all, watched, gapS);
          expect(shortKwh).toBeLessThanOrEqual(1e-6 * Math.max(1, wantedKwh));
        },
      ),
    );
  });
});
