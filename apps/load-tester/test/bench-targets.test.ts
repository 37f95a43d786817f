import { describe, expect, test } from "bun:test";
import type { BurstResult, Throughput } from "../src/bench/run.ts";
import { type BenchMeasurements, benchTargets, type SystemRun } from "../src/bench/targets.ts";

const run = (perS: number, p99Ms: number, balancerCpuUsPerDispatch = 100): SystemRun => ({
  requests: perS * 8,
  perS,
  latency: { count: perS * 8, meanMs: 1, p50Ms: 1, p90Ms: 1, p99Ms, maxMs: p99Ms },
  notOk: 0,
  failures: {},
  balancerCpuUsPerDispatch,
});
const burst = (loadSpread: number, breaches = 0) =>
  ({ requests: 2000, admitted: 2000, breaches, loadSpread, spreadBound: 0.00275 }) as BurstResult;

/** A run where every target sits just on the good side of its limit. */
const passing = (): BenchMeasurements => ({
  bare: run(1000, 10) as Throughput,
  telemetryOff: run(600, 25),
  telemetryOn: run(510, 30, 200),
  substations32: run(410, 40, 250),
  burst: burst(0.00275),
  station: [
    { sessions: 10, admitAndStopUs: 10, getLoadUs: 0.1 },
    { sessions: 10_000, admitAndStopUs: 20, getLoadUs: 0.2 },
  ],
});

const byName = (m: BenchMeasurements) => Object.fromEntries(benchTargets(m).map((t) => [t.name, t]));

describe("bench targets", () => {
  test("each target's value is computed from the right runs, and met on its side of the limit", () => {
    const t = byName(passing());
    expect(t["end-to-end throughput >= 50% of the bare chain (telemetry on)"]).toEqual({
      name: "end-to-end throughput >= 50% of the bare chain (telemetry on)",
      value: 0.51,
      limit: 0.5,
      ok: true,
    });
    expect(t["p99 <= 3x the bare chain's p99 (telemetry on)"]).toMatchObject({ value: 3, ok: true });
    expect(t["32 substations >= 80% of the throughput with 2"]?.value).toBeCloseTo(410 / 510, 12);
    expect(t["balancer CPU per dispatch, 32 substations / 2 (does not grow with N)"]).toMatchObject({
      value: 1.25,
      ok: true,
    });
    expect(t["tracing overhead <= 15%"]?.value).toBeCloseTo(0.15, 12);
    expect(t["burst: load spread <= one request's share of the smallest substation"]).toMatchObject({
      limit: 0.00275,
      ok: true,
    });
    expect(t["admission cost at 10,000 sessions <= 2x at 10"]).toMatchObject({ value: 2, ok: true });
    expect(Object.values(t).every((x) => x.ok)).toBe(true);
    expect(Object.keys(t)).toHaveLength(9);
  });

  test("one step past any limit is not met", () => {
    const worse: [string, (m: BenchMeasurements) => void][] = [
      [
        "end-to-end throughput >= 50% of the bare chain (telemetry on)",
        (m) => ((m.telemetryOn as SystemRun).perS = 499),
      ],
      [
        "p99 <= 3x the bare chain's p99 (telemetry on)",
        (m) => ((m.telemetryOn as SystemRun).latency.p99Ms = 31),
      ],
      ["32 substations >= 80% of the throughput with 2", (m) => ((m.substations32 as SystemRun).perS = 400)],
      [
        "balancer CPU per dispatch, 32 substations / 2 (does not grow with N)",
        (m) => ((m.substations32 as SystemRun).balancerCpuUsPerDispatch = 260),
      ],
      ["tracing overhead <= 15%", (m) => (m.telemetryOff.perS = 700)],
      ["burst: 0 capacity breaches", (m) => (m.burst.breaches = 1)],
      [
        "burst: load spread <= one request's share of the smallest substation",
        (m) => (m.burst.loadSpread = 0.003),
      ],
      ["admission cost at 10,000 sessions <= 2x at 10", (m) => (m.station[1].admitAndStopUs = 21)],
      ["getLoad cost at 10,000 sessions <= 2x at 10", (m) => (m.station[1].getLoadUs = 0.21)],
    ];
    for (const [name, spoil] of worse) {
      const m = passing();
      spoil(m);
      const t = byName(m);
      expect({ name, ok: t[name]?.ok }).toEqual({ name, ok: false });
    }
  });

  test("runs a smoke run leaves out are not reported, rather than reported as met", () => {
    const m = passing();
    delete m.substations32;
    const names = benchTargets(m).map((t) => t.name);
    expect(names).not.toContain("32 substations >= 80% of the throughput with 2");
    expect(names).toHaveLength(7);
  });
});
