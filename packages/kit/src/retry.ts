/**
 * Retrying, in one vocabulary for every loop of the grid: `attempt` counts failures from 0, `delayMs` is the
 * wait after the first one, doubling per attempt up to `maxDelayMs`, each wait spread by ±`jitter` so peers
 * that failed together do not come back in lockstep; `signal` ends a wait (and the loop) at once. Timers are
 * unref'd: a back-off never holds a process open.
 */
import type { Scheduler } from "./timers.ts";

export interface BackoffOptions {
  /** The wait after the first failure (attempt 0). */
  delayMs: number;
  /** The longest wait, however many attempts have failed (jitter included). */
  maxDelayMs: number;
  /** Each wait is spread by ± this fraction of itself (0.2: ±20 %); 0 for none. */
  jitter?: number;
  /** Uniform in [0, 1): the jitter's source (tests fix it). */
  random?: () => number;
  /** Where waits are timed (tests drive a manual one). */
  scheduler?: Scheduler;
}

const DEFAULT_JITTER = 0.2;

/** Timers that never hold the process open, on the monotonic clock. */
export const backgroundScheduler: Scheduler = {
  now: () => performance.now(),
  schedule: (run, ms) => {
    const timer = setTimeout(run, ms);
    timer.unref?.();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** The wait before trying again after failed attempt number `attempt` (0: the first failure). */
export function backoffDelayMs(attempt: number, opts: BackoffOptions): number {
  const jitter = opts.jitter ?? DEFAULT_JITTER;
  const baseMs = Math.min(opts.maxDelayMs, opts.delayMs * 2 ** Math.max(0, attempt));
  const spread = jitter === 0 ? 1 : 1 - jitter + 2 * jitter * (opts.random ?? Math.random)();
  return Math.min(opts.maxDelayMs, baseMs * spread);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it has already). */
export function delay(ms: number, signal?: AbortSignal, scheduler = backgroundScheduler): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      task.cancel();
      resolve(false);
    };
    const task = scheduler.schedule(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One loop's back-off: each failure waits longer, progress starts it over. */
export class Backoff {
  private failed = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.failed;
  }

  /** The wait after this failure; the next one will be longer. */
  nextDelayMs(): number {
    return backoffDelayMs(this.failed++, this.opts);
  }

  /** Waits the next delay; false if the signal aborted (now or meanwhile): the loop should give up. */
  wait(signal?: AbortSignal): Promise<boolean> {
    return delay(this.nextDelayMs(), signal, this.opts.scheduler);
  }

  /** Progress was made: the next failure waits the shortest delay again. */
  reset(): void {
    this.failed = 0;
  }
}

export interface RetryOptions extends BackoffOptions {
  /** Ends the waiting and the loop: `retry` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Attempts in all, the first included; unbounded when absent. */
  maxAttempts?: number;
  /** Whether this failure is worth another attempt (a refusal is an answer, not a failure); default: all. */
  retryIf?: (err: unknown, attempt: number) => boolean;
  /** Told of each failure that will be tried again, before the wait (to log it). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, waiting the back-off between failures. Rejects with the last failure when
 * `retryIf` says no or the attempts run out, and with the signal's reason once it aborts.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const backoff = new Backoff(opts);
  for (;;) {
    opts.signal?.throwIfAborted();
    const attempt = backoff.attempt;
    try {
      return await fn(attempt);
    } catch (err) {
      const last = opts.maxAttempts !== undefined && attempt + 1 >= opts.maxAttempts;
      if (last || opts.retryIf?.(err, attempt) === false) throw err;
      const delayMs = backoff.nextDelayMs();
      opts.onRetry?.(err, attempt, delayMs);
      if (!(await delay(delayMs, opts.signal, opts.scheduler))) opts.signal?.throwIfAborted();
    }
  }
}
