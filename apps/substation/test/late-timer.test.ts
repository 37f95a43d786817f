/**
 * A busy event loop fires the crossing timer late. A re-share that finds a session's slack just over the
 * re-share bound (here a limit set; an admission or an end alike) arms the next for the bound itself, when
 * little of that slack is left: that late re-share must still find the session able to make its departure.
 */
import { expect, test } from "bun:test";
import { dispatchRequestSchema } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import fc from "fast-check";
import { Station } from "../src/station.ts";

const HOUR_MS = 3_600_000;

test("a crossing timer 30 ms late after a re-share just outside the bound: the car still makes its departure", async () => {
  const clock = manualScheduler(Date.now());
  /** How late the timers armed now fire (ms). */
  let lateMs = 0;
  const late = {
    now: clock.now,
    schedule: (run: () => void, ms: number) => clock.schedule(run, ms + lateMs),
  };
  const s = new Station({
    id: "sub-a",
    capacityKw: 101,
    now: clock.now,
    scheduler: late,
    reshareMinMs: 1000,
  });
  const car = (vehicleId: string, energyKwh: number, inH: number) =>
    dispatchRequestSchema.parse({
      vehicleId,
      minKw: 1,
      maxKw: 100,
      energyKwh,
      departAt: new Date(clock.now() + inH * HOUR_MS).toISOString(),
    });
  try {
    // h cannot make its departure (300 kWh in 2 h at 100 kW), so it goes before b, which has 100.01 s of
    // slack (wantedKwh in 1 h at 100 kW): h has 100 kW, b its 1 kW minimum, and b's slack falls 0.99 s per s.
    const wantedKwh = (100 * (3600 - 100.01)) / 3600;
    await s.start(car("h", 300, 2));
    const b = (await s.start(car("b", wantedKwh, 1))).session;
    expect(s.get(b.sessionId)).toMatchObject({ allocatedKw: 1, onTrack: false });
    // At 100 s b has 1.01 s of slack, just over the 1 s bound. The re-share then (the limit) arms the next
    // for the bound, when b has 0.02 s of slack left, and that timer fires 30 ms late.
    clock.advance(100_000);
    lateMs = 30;
    s.setLimit(null);
    lateMs = 0;
    clock.advance(1100);
    expect(s.get(b.sessionId)).toMatchObject({ onTrack: true, projectedKwh: expect.closeTo(wantedKwh, 6) });
    clock.advance(HOUR_MS);
    const ended = s.get(b.sessionId);
    expect(ended).toMatchObject({ status: "ended", endReason: "energy_delivered" });
    expect(ended.deliveredKwh).toBeCloseTo(wantedKwh, 6);
  } finally {
    s.close();
  }
});

test("over any history of re-shares and timers up to 0.24 s late, a car that can make its departure does", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        boundMs: fc.constantFrom(200, 1000, 5000),
        slackS: fc.double({ min: 0, max: 600, noNaN: true }),
        lateMs: fc.array(fc.integer({ min: 0, max: 240 }), { minLength: 1, maxLength: 20 }),
        // Re-shares an event causes, at random times: a limit that leaves the shares as they are, a walk-in
        // (no departure, 1 kW minimum) arriving or leaving.
        events: fc.array(
          fc.record({
            afterMs: fc.integer({ min: 1, max: 30_000 }),
            kind: fc.constantFrom("limit", "walk-in"),
          }),
          { maxLength: 40 },
        ),
      }),
      async ({ boundMs, slackS, lateMs, events }) => {
        const clock = manualScheduler(0);
        const baseMs = Date.now();
        const now = () => baseMs + clock.now();
        let armed = 0;
        const late = {
          now: clock.now,
          schedule: (run: () => void, ms: number) =>
            clock.schedule(run, ms + (lateMs[armed++ % lateMs.length] ?? 0)),
        };
        const s = new Station({ id: "sub-a", capacityKw: 102, now, scheduler: late, reshareMinMs: boundMs });
        const car = (vehicleId: string, energyKwh: number, inH: number) =>
          dispatchRequestSchema.parse({
            vehicleId,
            minKw: 1,
            maxKw: 100,
            energyKwh,
            departAt: new Date(now() + inH * HOUR_MS).toISOString(),
          });
        try {
          // h cannot make its departure, so it has every kW above the minimums until b runs out of slack; with
          // a walk-in's 1 kW, b still has its 100 kW.
          await s.start(car("h", 300, 2));
          const wantedKwh = (100 * (3600 - slackS)) / 3600;
          const b = (await s.start(car("b", wantedKwh, 1))).session;
          let walkIn: string | null = null;
          let limited = false;
          for (const { afterMs, kind } of events) {
            clock.advance(afterMs);
            if (kind === "limit") {
              limited = !limited;
              s.setLimit(limited ? 150 : null);
            } else if (walkIn === null) {
              const req = dispatchRequestSchema.parse({
                vehicleId: "w",
                minKw: 1,
                maxKw: 11,
                durationS: 7200,
              });
              walkIn = (await s.start(req)).session.sessionId;
            } else {
              s.stop(walkIn);
              walkIn = null;
            }
          }
          // Past its departure, and every timer's lateness.
          clock.advance(HOUR_MS + 1000);
          const ended = s.get(b.sessionId);
          expect({ slackS, boundMs, ended }).toMatchObject({
            ended: { status: "ended", endReason: "energy_delivered" },
          });
          expect(ended.deliveredKwh).toBeCloseTo(wantedKwh, 6);
        } finally {
          s.close();
        }
      },
    ),
    { numRuns: 300 },
  );
});
