import type { BurstResult, Throughput } from "./run.ts";
import type { StationCost } from "./station-cost.ts";

/** One bench target: what was measured against its limit. */
export interface Target {
  name: string;
  value: number;
  limit: number;
  ok: boolean;
}

export type SystemRun = Throughput & { balancerCpuUsPerDispatch: number };

/** What one `bun run bench` measured; a smoke run leaves the expensive runs out. */
export interface BenchMeasurements {
  bare: Throughput;
  telemetryOff: SystemRun;
  telemetryOn?: SystemRun;
  substations32?: SystemRun;
  burst: BurstResult;
  /** The substation's own cost at a few and at many sessions, in that order. */
  station: [StationCost, StationCost];
}

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
    name: "end-to-end throughput >= 50% of the bare chain (telemetry on)",
    value: (m) => ratio(m.telemetryOn?.perS, m.bare.perS),
    limit: () => 0.5,
    met: "at_least",
  },
  {
    name: "p99 <= 3x the bare chain's p99 (telemetry on)",
    value: (m) => ratio(m.telemetryOn?.latency.p99Ms, m.bare.latency.p99Ms),
    limit: () => 3,
    met: "at_most",
  },
  {
    name: "32 substations >= 80% of the throughput with 2",
    value: (m) => ratio(m.substations32?.perS, m.telemetryOn?.perS),
    limit: () => 0.8,
    met: "at_least",
  },
  {
    name: "balancer CPU per dispatch, 32 substations / 2 (does not grow with N)",
    value: (m) => ratio(m.substations32?.balancerCpuUsPerDispatch, m.telemetryOn?.balancerCpuUsPerDispatch),
    limit: () => 1.25,
    met: "at_most",
  },
  {
    name: "tracing overhead <= 15%",
    value: (m) => {
      const kept = ratio(m.telemetryOn?.perS, m.telemetryOff.perS);
      return kept === undefined ? undefined : 1 - kept;
    },
    limit: () => 0.15,
    met: "at_most",
  },
  { name: "burst: 0 capacity breaches", value: (m) => m.burst.breaches, limit: () => 0, met: "at_most" },
  {
    name: "burst: load spread <= one request's share of the smallest substation",
    value: (m) => m.burst.loadSpread,
    limit: (m) => m.burst.spreadBound,
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
