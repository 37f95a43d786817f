import * as hdr from "hdr-histogram-js";

/** Latency in microseconds, 1 µs to 60 s, 3 significant digits (HdrHistogram). */
/** The middle of a few timed rounds (the upper one of an even count): what the in-process benches report. */
export const median = (xs: readonly number[]): number =>
  xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export function latencyHistogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
export type Histogram = ReturnType<typeof latencyHistogram>;

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function summarizeLatency(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

/** What one request came to. */
export type RequestOutcome =
  | { ok: true; substationId: string; allocatedKw: number; tries: number }
  | { ok: false; code: string; reason: string };

/** Running totals of a load run; cheap to update per request. */
export class RunStats {
  readonly latency = latencyHistogram();
  /** Latency of the last progress interval only, for live output. */
  window = latencyHistogram();
  readonly outcomes = new Map<string, number>();
  readonly sessions = new Map<string, number>();
  sent = 0;
  completed = 0;
  admitted = 0;
  /** Open model only: arrivals not sent because too many were already in flight. */
  dropped = 0;

  record(latencyUs: number, outcome: RequestOutcome): void {
    const us = Math.max(1, Math.round(latencyUs));
    this.latency.recordValue(us);
    this.window.recordValue(us);
    this.completed += 1;
    const key = outcome.ok ? "OK" : `${outcome.code}/${outcome.reason}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    if (outcome.ok) {
      this.admitted += 1;
      this.sessions.set(outcome.substationId, (this.sessions.get(outcome.substationId) ?? 0) + 1);
    }
  }

  /** Hands back the interval histogram and starts a new one. */
  takeWindow(): Histogram {
    const w = this.window;
    this.window = latencyHistogram();
    return w;
  }
}

/** Requests that got no answer: the API unreachable or the connection cut ("NETWORK"), or an internal error. */
export function unanswered(stats: RunStats): number {
  let n = 0;
  for (const [key, count] of stats.outcomes)
    if (key.startsWith("NETWORK/") || key.startsWith("INTERNAL_SERVER_ERROR/")) n += count;
  return n;
}
