import type { RequestOutcome, RunStats } from "./stats.ts";

export type Send = (index: number) => Promise<RequestOutcome>;

export interface Stop {
  /** Stop after this many seconds of sending. */
  durationS?: number;
  /** Stop after this many requests. */
  count?: number;
}

async function timed(stats: RunStats, send: Send, index: number): Promise<void> {
  const started = performance.now();
  const outcome = await send(index);
  stats.record((performance.now() - started) * 1000, outcome);
}

const done = (stop: Stop, sent: number, t0: number) =>
  (stop.count !== undefined && sent >= stop.count) ||
  (stop.durationS !== undefined && performance.now() - t0 >= stop.durationS * 1000);

/**
 * Closed model: `concurrency` virtual users, each sending its next request as soon as the last is answered.
 * Throughput is whatever the system sustains; latency includes no queueing in the generator.
 */
export async function runClosed(stats: RunStats, send: Send, concurrency: number, stop: Stop): Promise<void> {
  const t0 = performance.now();
  const user = async () => {
    while (!done(stop, stats.sent, t0)) {
      const index = ++stats.sent;
      await timed(stats, send, index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, user));
}

/**
 * Open model: requests arrive at `ratePerS` whatever the system does (as vehicles do), evenly spaced or as a
 * Poisson process. If more than `maxInflight` are outstanding, new arrivals are dropped and counted, so an
 * overloaded system shows up as drops and latency instead of a generator that quietly slows down.
 */
export async function runOpen(
  stats: RunStats,
  send: Send,
  ratePerS: number,
  stop: Stop,
  opts: { maxInflight: number; poisson: boolean },
): Promise<void> {
  const t0 = performance.now();
  const pending = new Set<Promise<void>>();
  let nextArrivalMs = 0;
  const gapMs = () => (opts.poisson ? (-Math.log(1 - Math.random()) * 1000) / ratePerS : 1000 / ratePerS);
  while (!done(stop, stats.sent + stats.dropped, t0)) {
    const nowMs = performance.now() - t0;
    // Send every arrival that is due (timers are ~1 ms coarse; at high rates several fall in one tick).
    while (nextArrivalMs <= nowMs && !done(stop, stats.sent + stats.dropped, t0)) {
      nextArrivalMs += gapMs();
      if (pending.size >= opts.maxInflight) {
        stats.dropped += 1;
        continue;
      }
      const index = ++stats.sent;
      const p = timed(stats, send, index).finally(() => pending.delete(p));
      pending.add(p);
    }
    await Bun.sleep(Math.max(0, Math.min(5, nextArrivalMs - (performance.now() - t0))));
  }
  // Arrivals that fell due before the end while this loop was held up (a busy machine) were not sent: they
  // count as dropped, so the rate offered is the rate asked and the drops show the generator fell behind.
  if (stop.durationS !== undefined && stop.count === undefined)
    for (const endMs = stop.durationS * 1000; nextArrivalMs < endMs; nextArrivalMs += gapMs())
      stats.dropped += 1;
  await Promise.all(pending);
}
