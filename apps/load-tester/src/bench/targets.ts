import type { HomesCost } from "./memory-cost.ts";
import type { BurstResult, Throughput } from "./run.ts";
import type { StationCost } from "./station-cost.ts";

/** One bench target: what was measured against its limit. */
export interface Target {
  name: string;
  value: number;
  limit: number;
  ok: boolean;
}

/** CPU (every thread) per request of each app on the request path: the whole chain is their sum. */
export interface ChainCpu {
  chargeApi: number;
  balancer: number;
  /** Every substation process together (each request is served by one, and all are polled for load). */
  substations: number;
}

/** A system run; the balancer's CPU per request is its CPU per dispatch (one dispatch per request). */
export type SystemRun = Throughput & { cpuUsPerRequest: ChainCpu };

export const chainCpuUs = (c: ChainCpu) => c.chargeApi + c.balancer + c.substations;

/** What one `bun run bench` measured; a smoke run leaves the expensive runs out. */
export interface BenchMeasurements {
  /** The reference: three bare Bun processes, HTTP between them. */
  bare: Throughput;
  /** 2 substations, metrics on, traces off, journal with group commit (sync normal), WebSocket links. */
  tracesOff: SystemRun;
  /** The same with every span exported. */
  tracesOn?: SystemRun;
  /** The same as tracesOff with the journals in memory (nothing written to disk). */
  memoryJournal?: SystemRun;
  /** The same as tracesOff with more substations, hosted by as many processes (2). */
  substations32?: SystemRun;
  substations128?: SystemRun;
  burst: BurstResult;
  /**
   * The same burst through 2 and 4 balancer replicas sharing state (REDIS_URL). Each replica counts only its
   * own assignments in flight, so up to R requests may pick one substation without seeing each other.
   */
  burstReplicas?: { replicas: number; result: BurstResult }[];
  /** `bun run simulate` on the shipped scenario (24 h, 20 substations, ~10,000 sessions, 4 policies), s. */
  simulateS?: number;
  /** The substation's own cost at a few and at many sessions, in that order. */
  station: [StationCost, StationCost];
  /** The balancer's memory at a bound of 2,000 and of 200,000 homes (its default). */
  homes: [HomesCost, HomesCost];
}

/** The balancers' LOAD_REFRESH_MS default: how stale a replica's view of the others' admissions may be. */
export const REFRESH_S = 0.5;

/** Admissions of the other R-1 replicas one replica cannot see between two refreshes, at `ratePerS` in all. */
export const blindRequests = (replicas: number, ratePerS: number) =>
  ((replicas - 1) / replicas) * ratePerS * REFRESH_S;

interface Spec {
  name: string;
  /** undefined: not measured in this run, so not reported. */
  value: (m: BenchMeasurements) => number | undefined;
  limit: (m: BenchMeasurements) => number;
  /** Met when the value is at least, or at most, the limit. */
  met: "at_least" | "at_most";
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

const SPECS: Spec[] = [
  {
    name: "throughput vs the bare HTTP chain, metrics on, traces off",
    value: (m) => ratio(m.tracesOff.perS, m.bare.perS),
    limit: () => 1,
    met: "at_least",
  },
  {
    name: "throughput vs the bare HTTP chain, every span exported",
    value: (m) => ratio(m.tracesOn?.perS, m.bare.perS),
    limit: () => 0.85,
    met: "at_least",
  },
  {
    name: "p99 vs the bare chain's p99 (traces off)",
    value: (m) => ratio(m.tracesOff.latency.p99Ms, m.bare.latency.p99Ms),
    limit: () => 2,
    met: "at_most",
  },
  {
    name: "CPU per request, whole chain (charge-api + balancer + substations), traces off, µs",
    value: (m) => chainCpuUs(m.tracesOff.cpuUsPerRequest),
    limit: () => 250,
    met: "at_most",
  },
  {
    name: "balancer CPU per dispatch, 128 substations / 2",
    value: (m) => ratio(m.substations128?.cpuUsPerRequest.balancer, m.tracesOff.cpuUsPerRequest.balancer),
    limit: () => 1.25,
    met: "at_most",
  },
  {
    name: "throughput at 32 substations / at 2",
    value: (m) => ratio(m.substations32?.perS, m.tracesOff.perS),
    limit: () => 0.8,
    met: "at_least",
  },
  {
    name: "journal: group commit (sync normal) / in memory",
    value: (m) => ratio(m.tracesOff.perS, m.memoryJournal?.perS),
    limit: () => 0.95,
    met: "at_least",
  },
  { name: "burst: 0 capacity breaches", value: (m) => m.burst.breaches, limit: () => 0, met: "at_most" },
  {
    name: "burst: load spread <= one request's share of the smallest substation",
    value: (m) => m.burst.loadSpread,
    limit: (m) => m.burst.spreadBound,
    met: "at_most",
  },
  ...[2, 4].flatMap((replicas): Spec[] => {
    const run = (m: BenchMeasurements) => m.burstReplicas?.find((r) => r.replicas === replicas)?.result;
    // A replica sees the others' admissions only when it next refreshes its view (LOAD_REFRESH_MS): the
    // requests it cannot see, each one request's share, plus its own one.
    const bound = (r: BurstResult | undefined) =>
      r ? r.spreadBound * (1 + blindRequests(replicas, r.requests / r.durationS)) : 0;
    return [
      {
        name: `burst, ${replicas} balancer replicas: 0 capacity breaches`,
        value: (m) => run(m)?.breaches,
        limit: () => 0,
        met: "at_most",
      },
      {
        name: `burst, ${replicas} balancer replicas: load spread <= the share of the requests one replica cannot see`,
        value: (m) => run(m)?.loadSpread,
        limit: (m) => bound(run(m)),
        met: "at_most",
      },
    ];
  }),
  {
    name: "simulate: 24 h, 20 substations, 10,000 sessions, 4 policies, seconds",
    value: (m) => m.simulateS,
    limit: () => 10,
    met: "at_most",
  },
  {
    name: "admission cost at 10,000 sessions <= 2x at 10",
    value: (m) => ratio(m.station[1].admitAndStopUs, m.station[0].admitAndStopUs),
    limit: () => 2,
    met: "at_most",
  },
  {
    name: "getLoad cost at 10,000 sessions <= 2x at 10",
    value: (m) => ratio(m.station[1].getLoadUs, m.station[0].getLoadUs),
    limit: () => 2,
    met: "at_most",
  },
  {
    name: "balancer: remembering a dispatch at 200,000 homes (its bound) <= 2x at 2,000",
    value: (m) => ratio(m.homes[1].rememberUs, m.homes[0].rememberUs),
    limit: () => 2,
    met: "at_most",
  },
];

/** Floating-point slack, so a spread exactly at its bound counts as met. */
const EPSILON = 1e-9;

/** Every target this run measured, with its value, limit and whether it is met. */
export function benchTargets(m: BenchMeasurements): Target[] {
  return SPECS.flatMap((spec) => {
    const value = spec.value(m);
    if (value === undefined || !Number.isFinite(value)) return [];
    const limit = spec.limit(m);
    const ok = spec.met === "at_least" ? value >= limit - EPSILON : value <= limit + EPSILON;
    return [{ name: spec.name, value, limit, ok }];
  });
}
