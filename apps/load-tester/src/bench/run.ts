import type { AppRouter } from "@evgrid/charge-api";
import type { SubstationLoad } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { createTRPCClient, httpLink } from "@trpc/client";
import { chargeRequests } from "../load/charge.ts";
import { runClosed } from "../load/driver.ts";
import { GridWatcher } from "../load/grid-watch.ts";
import { type LatencySummary, RunStats, summarizeLatency } from "../load/stats.ts";

export interface Throughput {
  requests: number;
  perS: number;
  latency: LatencySummary;
  /** Requests that were not answered 200 (should be 0 with ample capacity). */
  notOk: number;
  /** Their codes and reasons, e.g. SERVICE_UNAVAILABLE/SUBSTATION_TIMEOUT. */
  failures: Record<string, number>;
}

/**
 * The one load generator every measurement uses: the typed tRPC client (stock httpLink, as a user's
 * client would be), closed model. A warm-up run is thrown away first so the JIT and connection pools of
 * every process are warm.
 */
export async function closedLoad(
  url: string,
  opts: { concurrency: number; durationS: number; warmupS: number; sessionS: number },
  /** Called between the warm-up and the measured run (to start a CPU window on warm processes). */
  warmed?: () => Promise<void>,
): Promise<Throughput> {
  const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc` })] });
  const request = { maxKw: 11, durationS: opts.sessionS };
  // Own vehicle ids for the warm-up: a vehicle holds one session at a time.
  await runClosed(new RunStats(), chargeRequests(api, "bench-warmup", request), opts.concurrency, {
    durationS: opts.warmupS,
  });
  await warmed?.();
  const send = chargeRequests(api, "bench", request);
  const stats = new RunStats();
  const t0 = performance.now();
  await runClosed(stats, send, opts.concurrency, { durationS: opts.durationS });
  const elapsedS = (performance.now() - t0) / 1000;
  return {
    requests: stats.completed,
    perS: stats.completed / elapsedS,
    latency: summarizeLatency(stats.latency),
    notOk: stats.completed - stats.admitted,
    failures: Object.fromEntries([...stats.outcomes].filter(([k]) => k !== "OK")),
  };
}

export interface BurstResult {
  requests: number;
  admitted: number;
  outcomes: Record<string, number>;
  latency: LatencySummary;
  breaches: number;
  samples: number;
  /** max - min of demand / capacity across substations once the burst is done. */
  loadSpread: number;
  /** One request's maxKw over the smallest substation's capacity: the bound for loadSpread. */
  spreadBound: number;
  /** How long the burst took (s): with replicas, how many admissions each cannot see before a refresh. */
  durationS: number;
  substations: { substationId: string; capacityKw: number; sessions: number; loadRatio: number }[];
}

/** `count` requests at `concurrency` against a grid, watching every substation's own load throughout. */
export async function burst(
  apiUrl: string,
  substationUrls: string[],
  opts: { count: number; concurrency: number; sessionS: number; maxKw: number; serviceToken: string },
): Promise<BurstResult> {
  const clients = substationUrls.map((u) =>
    internalClient<SubstationRouter>(u, { timeoutMs: 5000, token: opts.serviceToken }),
  );
  const read = () => Promise.all(clients.map((c) => c.getLoad.query())) as Promise<SubstationLoad[]>;
  const watcher = new GridWatcher(read, 20);
  watcher.start();
  const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${apiUrl}/trpc` })] });
  const stats = new RunStats();
  const started = performance.now();
  await runClosed(
    stats,
    chargeRequests(api, "burst", { maxKw: opts.maxKw, durationS: opts.sessionS }),
    opts.concurrency,
    { count: opts.count },
  );
  const durationS = (performance.now() - started) / 1000;
  const watch = await watcher.stop();
  const finals = await read();
  const ratios = finals.map((l) => l.demandKw / l.effectiveCapacityKw);
  return {
    requests: stats.completed,
    admitted: stats.admitted,
    outcomes: Object.fromEntries(stats.outcomes),
    latency: summarizeLatency(stats.latency),
    breaches: watch.breaches,
    samples: watch.samples,
    loadSpread: Math.max(...ratios) - Math.min(...ratios),
    spreadBound: opts.maxKw / Math.min(...finals.map((l) => l.effectiveCapacityKw)),
    durationS,
    substations: finals.map((l, i) => ({
      substationId: l.substationId,
      capacityKw: l.effectiveCapacityKw,
      sessions: l.activeSessions,
      loadRatio: ratios[i] as number,
    })),
  };
}
