/**
 * Exponential back-off for the gateway's retry loops: each wait ends early when the loop's signal aborts (the
 * transaction ended, the gateway stops), and its timer is unref'd so it never holds the process open.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Waits the next delay; false if the signal aborted (now or meanwhile): the loop should give up. */
  wait(signal: AbortSignal): Promise<boolean> {
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt++);
    return pause(ms, signal);
  }

  /** Progress was made: the next failure waits the shortest delay again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    timer.unref?.();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
