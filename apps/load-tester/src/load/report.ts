import type { GridWatch } from "./grid-watch.ts";
import { type LatencySummary, type RunStats, summarizeLatency } from "./stats.ts";

export interface LoadReport {
  mode: "open" | "closed";
  target: string;
  elapsedS: number;
  sent: number;
  completed: number;
  admitted: number;
  dropped: number;
  throughputPerS: number;
  latency: LatencySummary;
  outcomes: Record<string, number>;
  substations: {
    substationId: string;
    sessions: number;
    share: number;
    peakUtilization: number | null;
    breaches: number | null;
  }[];
  grid: Omit<GridWatch, "substations"> | null;
}

export function buildReport(
  mode: LoadReport["mode"],
  target: string,
  stats: RunStats,
  elapsedS: number,
  grid: GridWatch | null,
): LoadReport {
  const ids = new Set([...stats.sessions.keys(), ...(grid?.substations.map((s) => s.substationId) ?? [])]);
  const substations = [...ids].sort().map((id) => {
    const peak = grid?.substations.find((s) => s.substationId === id);
    const sessions = stats.sessions.get(id) ?? 0;
    return {
      substationId: id,
      sessions,
      share: stats.admitted > 0 ? sessions / stats.admitted : 0,
      peakUtilization: peak?.peakUtilization ?? null,
      breaches: peak?.breaches ?? null,
    };
  });
  const { substations: _omit, ...gridTotals } = grid ?? { substations: [] };
  return {
    mode,
    target,
    elapsedS,
    sent: stats.sent,
    completed: stats.completed,
    admitted: stats.admitted,
    dropped: stats.dropped,
    throughputPerS: elapsedS > 0 ? stats.completed / elapsedS : 0,
    latency: summarizeLatency(stats.latency),
    outcomes: Object.fromEntries([...stats.outcomes.entries()].sort((a, b) => b[1] - a[1])),
    substations,
    grid: grid ? (gridTotals as LoadReport["grid"]) : null,
  };
}

const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);

export function formatReport(r: LoadReport): string {
  const l = r.latency;
  const lines = [
    `${r.mode} model against ${r.target}: ${r.completed} requests in ${r.elapsedS.toFixed(1)} s = ${r.throughputPerS.toFixed(0)} req/s` +
      (r.dropped > 0 ? ` (${r.dropped} arrivals dropped: generator saturated)` : ""),
    `latency  p50 ${l.p50Ms} ms   p90 ${l.p90Ms} ms   p99 ${l.p99Ms} ms   max ${l.maxMs} ms`,
    `outcomes ${Object.entries(r.outcomes)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    "",
    `${"substation".padEnd(16)}${"sessions".padStart(9)}${"share".padStart(8)}${"peak util".padStart(11)}${"breaches".padStart(10)}`,
    ...r.substations.map(
      (s) =>
        `${s.substationId.padEnd(16)}${String(s.sessions).padStart(9)}${pct(s.share).padStart(8)}${pct(s.peakUtilization).padStart(11)}${String(s.breaches ?? "-").padStart(10)}`,
    ),
  ];
  if (r.grid) {
    lines.push(
      "",
      `load spread (demand/capacity, max - min across substations): ${r.grid.finalLoadSpread.toFixed(4)} at the end, ` +
        `${r.grid.maxLoadSpread.toFixed(4)} at worst; capacity breaches: ${r.grid.breaches} in ${r.grid.samples} samples`,
    );
  }
  return lines.join("\n");
}

/** One live line: what happened in the last interval, and each substation's share so far. */
export function progressLine(stats: RunStats, elapsedS: number, intervalS: number, shares: string): string {
  const w = summarizeLatency(stats.takeWindow());
  const errors = stats.completed - stats.admitted;
  return (
    `${elapsedS.toFixed(1)}s  ${(w.count / intervalS).toFixed(0)} req/s  p50 ${w.p50Ms} ms  p99 ${w.p99Ms} ms  ` +
    `done ${stats.completed}/${stats.sent}  not admitted ${errors}${stats.dropped ? `  dropped ${stats.dropped}` : ""}` +
    (shares ? `\n${shares}` : "")
  );
}
