/**
 * The longest delay `setTimeout` honours: 2^31-1 ms, about 24.8 days. Longer delays (and Infinity) are
 * clamped to 1 ms with a TimeoutOverflowWarning, so a timer armed from input can spin and flood the log.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** What a long timeout needs from the runtime; tests pass a fake clock. */
export interface TimerScheduler {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemScheduler: TimerScheduler = {
  // Monotonic: a wall-clock jump must not fire a long timer early or hold it back.
  now: () => performance.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A timer armed by `setLongTimeout`; `clear()` may be called at any time, any number of times. */
export interface LongTimeout {
  clear(): void;
}

const NEVER: LongTimeout = { clear() {} };

/**
 * `setTimeout` for any delay: waits in steps of at most MAX_TIMEOUT_MS until the real deadline, then calls
 * `fn` once. NaN and negative delays run as soon as possible (as setTimeout does); Infinity never runs.
 */
export function setLongTimeout(
  fn: () => void,
  delayMs: number,
  scheduler: TimerScheduler = systemScheduler,
): LongTimeout {
  const ms = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
  if (ms === Number.POSITIVE_INFINITY) return NEVER;
  const deadlineMs = scheduler.now() + ms;
  let handle: unknown;
  let cleared = false;
  const arm = (leftMs: number) => {
    const stepMs = Math.min(leftMs, MAX_TIMEOUT_MS);
    // Only a capped step looks at the clock again: a timer armed for its whole delay fires as setTimeout would.
    const capped = stepMs < leftMs;
    handle = scheduler.setTimeout(() => {
      handle = undefined;
      if (cleared) return;
      const stillMs = deadlineMs - scheduler.now();
      if (capped && stillMs > 0) arm(stillMs);
      else fn();
    }, stepMs);
  };
  arm(ms);
  return {
    clear() {
      cleared = true;
      if (handle !== undefined) scheduler.clearTimeout(handle);
      handle = undefined;
    },
  };
}
