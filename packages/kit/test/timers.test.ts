import { describe, expect, test } from "bun:test";
import { MAX_TIMEOUT_MS, setLongTimeout, type TimerScheduler } from "../src/timers.ts";

/** A clock that only moves when told to, and the timers armed on it. */
function fakeScheduler() {
  let nowMs = 0;
  let nextId = 0;
  const timers = new Map<number, { atMs: number; fn: () => void }>();
  const armedMs: number[] = [];
  const scheduler: TimerScheduler = {
    now: () => nowMs,
    setTimeout: (fn, delayMs) => {
      armedMs.push(delayMs);
      timers.set(++nextId, { atMs: nowMs + delayMs, fn });
      return nextId;
    },
    clearTimeout: (handle) => timers.delete(handle as number),
  };
  /** Moves the clock by `ms`, running each timer at its time, in order. */
  const advance = (ms: number) => {
    const endMs = nowMs + ms;
    for (;;) {
      const due = [...timers.entries()]
        .filter(([, t]) => t.atMs <= endMs)
        .sort((a, b) => a[1].atMs - b[1].atMs);
      const first = due[0];
      if (!first) break;
      timers.delete(first[0]);
      nowMs = first[1].atMs;
      first[1].fn();
    }
    nowMs = endMs;
  };
  return { scheduler, advance, armedMs, pending: () => timers.size };
}

describe("setLongTimeout", () => {
  test("a delay beyond 2^31-1 ms waits in capped steps and fires once, at its deadline", () => {
    const clock = fakeScheduler();
    const delayMs = 1000 * 3_600_000; // 1000 kWh at 1 kW: about 42 days
    let fired = 0;
    setLongTimeout(() => fired++, delayMs, clock.scheduler);
    clock.advance(delayMs - 1);
    expect(fired).toBe(0);
    expect(clock.armedMs.every((ms) => ms > 0 && ms <= MAX_TIMEOUT_MS)).toBe(true);
    // Two steps of 24.8 days and the rest: never a re-arm per millisecond.
    expect(clock.armedMs).toHaveLength(Math.ceil(delayMs / MAX_TIMEOUT_MS));
    clock.advance(1);
    expect(fired).toBe(1);
    clock.advance(10 * MAX_TIMEOUT_MS);
    expect(fired).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  test("a delay setTimeout can take is armed once, unchanged", () => {
    const clock = fakeScheduler();
    let fired = 0;
    setLongTimeout(() => fired++, 1500, clock.scheduler);
    expect(clock.armedMs).toEqual([1500]);
    clock.advance(1500);
    expect(fired).toBe(1);
  });

  test("clear() stops it before the first step and between steps", () => {
    const clock = fakeScheduler();
    let fired = 0;
    setLongTimeout(() => fired++, 10, clock.scheduler).clear();
    const long = setLongTimeout(() => fired++, 3 * MAX_TIMEOUT_MS, clock.scheduler);
    clock.advance(MAX_TIMEOUT_MS + 5);
    long.clear();
    long.clear();
    clock.advance(10 * MAX_TIMEOUT_MS);
    expect(fired).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  test("Infinity never fires; NaN and negative delays fire as soon as possible", () => {
    const clock = fakeScheduler();
    const fired: string[] = [];
    setLongTimeout(() => fired.push("inf"), Number.POSITIVE_INFINITY, clock.scheduler);
    setLongTimeout(() => fired.push("nan"), Number.NaN, clock.scheduler);
    setLongTimeout(() => fired.push("neg"), -5, clock.scheduler);
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
      await Bun.sleep(50);
      expect(fired).toBe(0);
      expect(warnings).toEqual([]);
    } finally {
      t.clear();
      process.off("warning", onWarning);
    }
  });
});
