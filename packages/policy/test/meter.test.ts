import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkMeterReading, type MeterPoint } from "../src/meter.ts";

const HOUR_MS = 3_600_000;

describe("checkMeterReading", () => {
  const start = { wh: 10_000, atMs: 0 };
  test("an 11 kW connector: 11 kWh in an hour is believed, 20 kWh is not, and a register never runs back", () => {
    expect(checkMeterReading({ wh: 21_000, atMs: HOUR_MS }, start, start, 11, 1000)).toBe("ok");
    expect(checkMeterReading({ wh: 30_000, atMs: HOUR_MS }, start, start, 11, 1000)).toBe("too_fast");
    expect(checkMeterReading({ wh: 9_999, atMs: HOUR_MS }, start, start, 11, 1000)).toBe("backwards");
    expect(checkMeterReading({ wh: Number.NaN, atMs: HOUR_MS }, start, start, 11, 1000)).toBe("backwards");
  });

  test("one register step at once is slack; many small steps cannot add up past it", () => {
    expect(checkMeterReading({ wh: 11_000, atMs: 10 }, start, start, 11, 1000)).toBe("ok");
    const last = { wh: 11_000, atMs: 10 };
    expect(checkMeterReading({ wh: 12_000, atMs: 20 }, last, start, 11, 1000)).toBe("too_fast");
  });

  test("property: a history of accepted readings never claims more than the maximum could deliver", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dtMs: fc.nat(600_000), dWh: fc.integer({ min: -500, max: 5000 }) }), {
          maxLength: 50,
        }),
        (steps) => {
          let last: MeterPoint = start;
          for (const { dtMs, dWh } of steps) {
            const reading = { wh: last.wh + dWh, atMs: last.atMs + dtMs };
            if (checkMeterReading(reading, last, start, 11, 1000) === "ok") last = reading;
          }
          expect(last.wh - start.wh).toBeLessThanOrEqual((11 * 1.1 * last.atMs) / 3600 + 1000 + 1e-9);
          expect(last.wh).toBeGreaterThanOrEqual(start.wh);
        },
      ),
    );
  });
});
