/** The one back-off: its curve, its waits on a manual clock, and the retry loop built on it. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Backoff, backoffDelayMs, delay, retry } from "../src/retry.ts";
import { manualScheduler } from "../src/timers.ts";

/** Lets every promise callback already queued run (the manual clock runs timers, not microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("backoffDelayMs", () => {
  test("doubles per attempt from delayMs, capped at maxDelayMs, within ±20 % by default", () => {
    const mid = (attempt: number) =>
      backoffDelayMs(attempt, { delayMs: 500, maxDelayMs: 10_000, random: () => 0.5 });
    expect([0, 1, 2, 3, 4, 5, 9, 5000].map(mid)).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
    expect(backoffDelayMs(2, { delayMs: 500, maxDelayMs: 10_000, random: () => 0 })).toBe(1600);
    expect(backoffDelayMs(2, { delayMs: 500, maxDelayMs: 10_000, random: () => 0.999999 })).toBeCloseTo(
      2400,
      2,
    );
    expect(backoffDelayMs(3, { delayMs: 500, maxDelayMs: 10_000, jitter: 0, random: () => 0 })).toBe(4000);
  });

  test("never beyond maxDelayMs, never below (1 - jitter) of the doubled delay, for any attempt and draw", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, delayMs, maxDelayMs, jitter, draw) => {
          const ms = backoffDelayMs(attempt, { delayMs, maxDelayMs, jitter, random: () => draw });
          const doubled = Math.min(maxDelayMs, delayMs * 2 ** attempt);
          expect(Number.isFinite(ms)).toBe(true);
          expect(ms).toBeLessThanOrEqual(maxDelayMs);
          expect(ms).toBeGreaterThanOrEqual(doubled * (1 - jitter) - 1e-9);
        },
      ),
    );
  });
});

describe("delay", () => {
  test("resolves true once its time has come on the clock, and not before", async () => {
    const clock = manualScheduler();
    let result: boolean | undefined;
    void delay(1000, undefined, clock).then((r) => {
      result = r;
    });
    clock.advance(999);
    await settle();
    expect(result).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(result).toBe(true);
  });

  test("an abort ends the wait at once with false and cancels its timer; an aborted signal never waits", async () => {
    const clock = manualScheduler();
    const stop = new AbortController();
    const waiting = delay(60_000, stop.signal, clock);
    expect(clock.pending).toBe(1);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(clock.pending).toBe(0);
    expect(await delay(60_000, stop.signal, clock)).toBe(false);
    expect(clock.armedMs).toEqual([60_000]);
  });
});

describe("Backoff", () => {
  test("each wait is longer than the last until reset, which starts it over", async () => {
    const clock = manualScheduler();
    const backoff = new Backoff({ delayMs: 100, maxDelayMs: 1000, random: () => 0.5, scheduler: clock });
    for (let i = 0; i < 5; i++) {
      const waited = backoff.wait();
      clock.advance(1000);
      expect(await waited).toBe(true);
    }
    expect(backoff.attempt).toBe(5);
    backoff.reset();
    void backoff.wait();
    expect(clock.armedMs).toEqual([100, 200, 400, 800, 1000, 100]);
  });
});

describe("retry", () => {
  test("tries until it succeeds, waiting the back-off between failures, and tells each retry", async () => {
    const clock = manualScheduler();
    const told: [number, number][] = [];
    let calls = 0;
    const done = retry(
      async (attempt) => {
        calls += 1;
        if (attempt < 3) throw new Error(`down ${attempt}`);
        return `up after ${attempt}`;
      },
      {
        delayMs: 50,
        maxDelayMs: 1000,
        jitter: 0,
        scheduler: clock,
        onRetry: (_err, attempt, delayMs) => told.push([attempt, delayMs]),
      },
    );
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(1000);
    }
    expect(await done).toBe("up after 3");
    expect(calls).toBe(4);
    expect(told).toEqual([
      [0, 50],
      [1, 100],
      [2, 200],
    ]);
  });

  test("a failure retryIf refuses, or the last of maxAttempts, is the answer, without another wait", async () => {
    const clock = manualScheduler();
    const refusal = new Error("refused");
    await expect(
      retry(
        async () => {
          throw refusal;
        },
        { delayMs: 50, maxDelayMs: 1000, scheduler: clock, retryIf: (err) => err !== refusal },
      ),
    ).rejects.toBe(refusal);
    expect(clock.armedMs).toEqual([]);
    let calls = 0;
    const twice = retry(
      async () => {
        calls += 1;
        throw new Error(`failure ${calls}`);
      },
      { delayMs: 50, maxDelayMs: 1000, scheduler: clock, maxAttempts: 2 },
    );
    await settle();
    clock.advance(1000);
    await expect(twice).rejects.toThrow("failure 2");
    expect(clock.armedMs).toHaveLength(1);
  });

  test("an abort during a wait ends the loop with the signal's reason, and no attempt follows", async () => {
    const clock = manualScheduler();
    const stop = new AbortController();
    let calls = 0;
    const loop = retry(
      async () => {
        calls += 1;
        throw new Error("down");
      },
      { delayMs: 50, maxDelayMs: 1000, scheduler: clock, signal: stop.signal },
    );
    await settle();
    expect(clock.pending).toBe(1);
    stop.abort(new Error("gateway stopping"));
    await expect(loop).rejects.toThrow("gateway stopping");
    clock.advance(60_000);
    expect(calls).toBe(1);
    expect(clock.pending).toBe(0);
  });
});

test("the default timers are unref'd: a pending back-off does not keep a process alive", async () => {
  const proc = Bun.spawn(
    [
      process.execPath,
      "-e",
      `import { delay } from "${import.meta.dir}/../src/retry.ts"; void delay(600_000);`,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  // It exits by itself (well before the ten minutes the timer asks for); a held process would never exit.
  expect(await proc.exited).toBe(0);
});
