import { errorDataOf } from "@evgrid/contract";
import { Backoff, type Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import type { Grid } from "./grid.ts";
import { type GatewayMetrics, writeRegistry } from "./metrics.ts";
import type { QueuedStop, Registry } from "./registry.ts";

/**
 * Grid sessions to stop, until the grid confirmed each (a stop, or "no such session": already ended). The
 * grid is asked first; only what it did not confirm is recorded in the registry (so a restart retries it),
 * and kept here too, so it is retried even when the registry cannot be written (a full disk).
 */
export class StopOutbox {
  /** Stops not confirmed yet, by session: what is to run once a retry has the grid's confirmation. */
  private readonly pending = new Map<string, (() => void)[]>();
  private readonly closing = new AbortController();
  /** Aborted (and replaced) to retry every pending stop now: the reconcile. */
  private wake = new AbortController();

  constructor(
    private readonly grid: Grid,
    private readonly registry: Registry,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Stops the session: one attempt now, then `record(queued)` (queued: the grid has not confirmed it yet),
   * then retries in the background until it has. A failed `record` is logged and counted, nothing more.
   * Resolves true once the grid confirmed it; false: `confirmedLater` runs once a retry has.
   */
  async stop(
    stop: QueuedStop,
    record: (queued: QueuedStop | null) => void = () => {},
    confirmedLater: () => void = () => {},
  ): Promise<boolean> {
    const waiting = this.pending.get(stop.sessionId);
    if (waiting) {
      waiting.push(confirmedLater);
      this.write(() => record(stop)); // already on its way: only recorded
      return false;
    }
    this.pending.set(stop.sessionId, [confirmedLater]);
    const done = await this.attempt(stop);
    this.write(() => record(done ? null : stop));
    if (done) this.pending.delete(stop.sessionId);
    else void this.retry(stop);
    return done;
  }

  /** The stops the registry kept from before a restart. */
  restore(): number {
    const queued = this.registry.queuedStops();
    for (const stop of queued) {
      if (this.pending.has(stop.sessionId)) continue;
      this.pending.set(stop.sessionId, []);
      void this.retry(stop);
    }
    return queued.length;
  }

  /** Every pending stop is tried again now (the reconcile). */
  retryNow(): void {
    const woken = this.wake;
    this.wake = new AbortController();
    woken.abort();
  }

  get size(): number {
    return this.pending.size;
  }

  close(): void {
    this.closing.abort();
  }

  private async retry(stop: QueuedStop): Promise<void> {
    const backoff = new Backoff({ delayMs: 500, maxDelayMs: 30_000 });
    while (!this.closing.signal.aborted && this.pending.has(stop.sessionId)) {
      await backoff.wait(AbortSignal.any([this.closing.signal, this.wake.signal]));
      if (this.closing.signal.aborted) return;
      if (await this.attempt(stop)) {
        const confirmed = this.pending.get(stop.sessionId) ?? [];
        this.pending.delete(stop.sessionId);
        this.write(() => this.registry.stopDone(stop.sessionId));
        this.log.info("a stop the grid had not confirmed is done", { sessionId: stop.sessionId });
        for (const fn of confirmed) fn();
        return;
      }
    }
  }

  private async attempt(stop: QueuedStop): Promise<boolean> {
    try {
      await this.grid.balancers.call((b) => b.stopSession.mutate(stop));
      this.metrics.stop("done");
      return true;
    } catch (err) {
      if (errorDataOf(err)?.reason === "SESSION_NOT_FOUND") {
        this.metrics.stop("done");
        return true;
      }
      this.metrics.stop("failed");
      this.log.warn("could not end the session yet; retrying", {
        sessionId: stop.sessionId,
        reason: stop.reason,
        error: describeFailure(err),
      });
      return false;
    }
  }

  private write(fn: () => void): void {
    writeRegistry(this.metrics, this.log, "could not write the registry; the stop is kept in memory", fn);
  }
}
