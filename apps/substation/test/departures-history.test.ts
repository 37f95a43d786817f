/**
 * Sharing by need over whole histories: random arrivals with and without departures, ends, an operator limit
 * going up and down and time passing (timers, energy goals, departures, standing changes all fire). After
 * every step: never over the capacity in force, every minimum kept, no power left unused while someone
 * wants more. fast-check prints the seed and the shortest failing history.
 */
import { expect, test } from "bun:test";
import { dispatchRequestSchema } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import fc from "fast-check";
import { Station } from "../src/station.ts";

const EPS = 1e-6;
const opArb = fc.oneof(
  fc.record({
    kind: fc.constant("start" as const),
    maxKw: fc.constantFrom(7.4, 11, 22, 50),
    energyKwh: fc.double({ min: 1, max: 80, noNaN: true }),
    departInH: fc.option(fc.double({ min: 0.1, max: 12, noNaN: true })),
    priority: fc.constantFrom("standard", "fleet"),
  }),
  fc.record({ kind: fc.constant("stop" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("limit" as const), limitKw: fc.option(fc.integer({ min: 10, max: 120 })) }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 2 * 3_600_000 }) }),
);

test("over any history: within capacity, minimums kept, work-conserving", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      // Timers on a clock from 0 (its milliseconds stay exact), session times from the wall clock's now.
      const clock = manualScheduler(0);
      const baseMs = Date.now();
      const now = () => baseMs + clock.now();
      const s = new Station({
        id: "sub-a",
        capacityKw: 100,
        now,
        scheduler: clock,
        reshareMinMs: 1000,
      });
      try {
        let n = 0;
        for (const op of ops) {
          if (op.kind === "start") {
            const departure =
              op.departInH === null
                ? {}
                : { departAt: new Date(now() + op.departInH * 3_600_000).toISOString() };
            const req = dispatchRequestSchema.parse({
              vehicleId: `ev-${n++}`,
              maxKw: op.maxKw,
              energyKwh: op.energyKwh,
              priority: op.priority,
              ...departure,
            });
            await s.start(req).catch(() => undefined);
          } else if (op.kind === "stop") {
            const active = s.list("active", 1000);
            const victim = active[op.pick % Math.max(1, active.length)];
            if (victim) s.stop(victim.sessionId);
          } else if (op.kind === "limit") {
            s.setLimit(op.limitKw);
          } else {
            clock.advance(op.ms);
          }
          const load = s.load();
          const active = s.list("active", 1000);
          const sumKw = active.reduce((kw, x) => kw + x.allocatedKw, 0);
          expect(sumKw).toBeLessThanOrEqual(load.effectiveCapacityKw + EPS);
          for (const x of active) {
            expect(x.allocatedKw).toBeGreaterThanOrEqual(x.minKw - EPS);
            expect(x.allocatedKw).toBeLessThanOrEqual((x.capKw ?? x.maxKw) + EPS);
          }
          if (active.some((x) => x.allocatedKw < (x.capKw ?? x.maxKw) - EPS))
            expect(sumKw).toBeCloseTo(load.effectiveCapacityKw, 6);
        }
      } finally {
        s.close();
      }
    }),
    {
      numRuns: Number(process.env.RUNS ?? 150),
      ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
    },
  );
});
