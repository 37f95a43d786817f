import type { Scheduler } from "@evgrid/link/retry";

/**
 * The longest delay `setTimeout` honours: 2^31-1 ms, about 24.8 days. Longer delays (and Infinity) are
 * clamped to 1 ms with a TimeoutOverflowWarning, so a timer armed from input can spin and flood the log.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

// The Scheduler type sits beside the back-off in @evgrid/link (the link's reconnect waits on it).
export type { Scheduler } from "@evgrid/link/retry";

export const systemScheduler: Scheduler = {
  // Monotonic: a wall-clock jump must not fire a long timer early or hold it back.
  now: () => performance.now(),
  schedule: (run, ms) => {
    const timer = setTimeout(run, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};

/**
 * A scheduler for tests: nothing runs until `advance(ms)` moves its clock, then everything due runs in order
 * of its time (and what it schedules in turn, if due). `armedMs` lists every delay ever scheduled.
 */
export function manualScheduler(startMs = 0) {
  let nowMs = startMs;
  let seq = 0;
  const due: { atMs: number; seq: number; run: () => void; cancelled: boolean }[] = [];
  const armedMs: number[] = [];
  return {
    now: () => nowMs,
    schedule(run: () => void, ms: number) {
      armedMs.push(ms);
      const task = { atMs: nowMs + Math.max(0, ms), seq: seq++, run, cancelled: false };
      due.push(task);
      return {
        cancel: () => {
          task.cancelled = true;
        },
      };
    },
    armedMs,
    /** Tasks waiting to run. */
    get pending() {
      return due.filter((t) => !t.cancelled).length;
    },
    advance(ms: number): void {
      const until = nowMs + ms;
      for (;;) {
        due.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
        const next = due.find((t) => !t.cancelled && t.atMs <= until);
        if (!next) break;
        due.splice(due.indexOf(next), 1);
        nowMs = next.atMs;
        next.run();
      }
      nowMs = until;
    },
  } satisfies Scheduler & Record<string, unknown>;
}

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
  scheduler: Scheduler = systemScheduler,
): LongTimeout {
  const ms = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
  if (ms === Number.POSITIVE_INFINITY) return NEVER;
  const deadlineMs = scheduler.now() + ms;
  let task: { cancel(): void } | undefined;
  let cleared = false;
  const arm = (leftMs: number) => {
    const stepMs = Math.min(leftMs, MAX_TIMEOUT_MS);
    // Only a capped step looks at the clock again: a timer armed for its whole delay fires as setTimeout would.
    const capped = stepMs < leftMs;
    task = scheduler.schedule(() => {
      task = undefined;
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
      task?.cancel();
      task = undefined;
    },
  };
}

/**
 * `promise`, or `onTimeout` after `ms`, whichever comes first. Unlike racing a bare `Bun.sleep`, the timer
 * is cleared when the promise wins, so a finished script does not linger until every deadline has passed.
 */
export async function within<T, U>(promise: Promise<T>, ms: number, onTimeout: U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
