import { describe, expect, test } from "bun:test";
import { MAX_TIMEOUT_MS, manualScheduler, setLongTimeout } from "../src/timers.ts";

describe("setLongTimeout", () => {
  test("a delay beyond 2^31-1 ms waits in capped steps and fires once, at its deadline", () => {
    const clock = manualScheduler();
    const delayMs = 1000 * 3_600_000; // 1000 kWh at 1 kW: about 42 days
    let fired = 0;
    setLongTimeout(() => fired++, delayMs, clock);
    clock.advance(delayMs - 1);
    expect(fired).toBe(0);
    expect(clock.armedMs.every((ms) => ms > 0 && ms <= MAX_TIMEOUT_MS)).toBe(true);
    // Two steps of 24.8 days and the rest: never a re-arm per millisecond.
    expect(clock.armedMs).toHaveLength(Math.ceil(delayMs / MAX_TIMEOUT_MS));
    clock.advance(1);
    expect(fired).toBe(1);
    clock.advance(10 * MAX_TIMEOUT_MS);
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
  });

  test("a delay setTimeout can take is armed once, unchanged", () => {
    const clock = manualScheduler();
    let fired = 0;
    setLongTimeout(() => fired++, 1500, clock);
    expect(clock.armedMs).toEqual([1500]);
    clock.advance(1500);
    expect(fired).toBe(1);
  });

  test("clear() stops it before the first step and between steps", () => {
    const clock = manualScheduler();
    let fired = 0;
    setLongTimeout(() => fired++, 10, clock).clear();
    const long = setLongTimeout(() => fired++, 3 * MAX_TIMEOUT_MS, clock);
    clock.advance(MAX_TIMEOUT_MS + 5);
    long.clear();
    long.clear();
    clock.advance(10 * MAX_TIMEOUT_MS);
    expect(fired).toBe(0);
    expect(clock.pending).toBe(0);
  });

  test("Infinity never fires; NaN and negative delays fire as soon as possible", () => {
    const clock = manualScheduler();
    const fired: string[] = [];
    setLongTimeout(() => fired.push("inf"), Number.POSITIVE_INFINITY, clock);
    setLongTimeout(() => fired.push("nan"), Number.NaN, clock);
    setLongTimeout(() => fired.push("neg"), -5, clock);
    expect(clock.armedMs).toEqual([0, 0]);
    clock.advance(0);
    expect(fired.sort()).toEqual(["nan", "neg"]);
  });

  test("on the real runtime, a 2^40 ms timeout neither fires nor warns", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    let fired = 0;
    const t = setLongTimeout(() => fired++, 2 ** 40);
    try {
      // A later event, not a pause: timers fire in deadline order, so a long timeout clamped to 1 ms (the
      // bug) would have fired before this 20 ms one.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(fired).toBe(0);
      expect(warnings).toEqual([]);
    } finally {
      t.clear();
      process.off("warning", onWarning);
    }
  });
});
