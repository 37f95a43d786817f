/** Generators for the deadline policy's properties: sessions with (maybe) a departure, and sites for them. */
import fc from "fast-check";
import type { NeedDemand } from "../src/deadline.ts";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A session: AC or DC bounds, a priority weight, and (maybe) energy left by a departure. */
export const demandArb = (deadlines: boolean) =>
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

/** A site for these demands whose capacity covers the minimums (admission guarantees that). */
export const coveringSite = <D extends { minKw: number; maxKw: number }>(
  demand: fc.Arbitrary<D>,
  maxLength: number,
) =>
  fc.array(demand, { minLength: 1, maxLength }).chain((demands) =>
    fc.record({
      demands: fc.constant(demands),
      availableKw: fc.double({
        min: sum(demands.map((d) => d.minKw)),
        max: sum(demands.map((d) => d.maxKw)) * 1.5,
        noNaN: true,
      }),
    }),
  );

export const siteArb = (deadlines: boolean) => coveringSite(demandArb(deadlines), 40);
