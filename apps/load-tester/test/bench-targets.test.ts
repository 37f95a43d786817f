import { describe, expect, test } from "bun:test";
import type { BurstResult, Throughput } from "../src/bench/run.ts";
import { type BenchMeasurements, benchTargets, type SystemRun } from "../src/bench/targets.ts";

const run = (perS: number, p99Ms: number, balancerCpuUsPerDispatch = 100): SystemRun => ({
  cpuUsPerRequest: { chargeApi: 70, balancer: balancerCpuUsPerDispatch, substations: 80 },
  requests: perS * 8,
  perS,
  latency: { count: perS * 8, meanMs: 1, p50Ms: 1, p90Ms: 1, p99Ms, maxMs: p99Ms },
  notOk: 0,
  failures: {},
});
const burst = (loadSpread: number, breaches = 0) =>
  ({
    requests: 2000,
    admitted: 2000,
    breaches,
    loadSpread,
    spreadBound: 0.00275,
    durationS: 2,
  }) as BurstResult;

/** A run where every target sits just on the good side of its limit. */
const passing = (): BenchMeasurements => ({
  bare: run(1000, 10) as Throughput,
  tracesOff: run(1000, 20, 100),
  tracesOn: run(850, 30, 200),
  memoryJournal: run(1000 / 0.95, 15),
  substations32: run(800, 40, 110),
  substations128: run(780, 40, 125),
  burst: burst(0.00275),
  // 1,000 requests/s: one replica of 2 cannot see 250 of them in a 0.5 s refresh, one of 4 375.
  burstReplicas: [
    { replicas: 2, result: burst(0.00275 * 251) },
    { replicas: 4, result: burst(0.00275 * 376) },
  ],
  simulateS: 10,
  station: [
    { sessions: 10, admitAndStopUs: 10, getLoadUs: 0.1 },
    { sessions: 10_000, admitAndStopUs: 20, getLoadUs: 0.2 },
  ],
  homes: [
    { homes: 2_000, rememberUs: 4 },
    { homes: 200_000, rememberUs: 8 },
  ],
});

const replicaRun = (m: BenchMeasurements, replicas: number) => {
  const found = m.burstReplicas?.find((r) => r.replicas === replicas);
  if (!found) throw new Error(`no burst with ${replicas} replicas`);
  return found.result;
};

const byName = (m: BenchMeasurements) => Object.fromEntries(benchTargets(m).map((t) => [t.name, t]));

describe("bench targets", () => {
  test("each target's value is computed from the right runs, and met on its side of the limit", () => {
    const t = byName(passing());
    expect(t["throughput vs the bare HTTP chain, metrics on, traces off"]).toEqual({
      name: "throughput vs the bare HTTP chain, metrics on, traces off",
      value: 1,
      limit: 1,
      ok: true,
    });
    expect(t["throughput vs the bare HTTP chain, every span exported"]).toMatchObject({
      value: 0.85,
      ok: true,
    });
    expect(t["p99 vs the bare chain's p99 (traces off)"]).toMatchObject({ value: 2, limit: 2, ok: true });
    expect(t["balancer CPU per dispatch, 128 substations / 2"]).toMatchObject({ value: 1.25, ok: true });
    // The chain's CPU is its three apps' sum (70 + 100 + 80), at its limit.
    expect(
      t["CPU per request, whole chain (charge-api + balancer + substations), traces off, µs"],
    ).toMatchObject({ value: 250, limit: 250, ok: true });
    expect(t["throughput at 32 substations / at 2"]?.value).toBeCloseTo(0.8, 12);
    expect(t["journal: group commit (sync normal) / in memory"]?.value).toBeCloseTo(0.95, 12);
    expect(t["burst: load spread <= one request's share of the smallest substation"]).toMatchObject({
      limit: 0.00275,
      ok: true,
    });
    expect(t["admission cost at 10,000 sessions <= 2x at 10"]).toMatchObject({ value: 2, ok: true });
    expect(t["balancer: remembering a dispatch at 200,000 homes (its bound) <= 2x at 2,000"]).toMatchObject({
      value: 2,
      ok: true,
    });
    // With R replicas, each blind to the others' admissions until its next refresh.
    const four =
      t["burst, 4 balancer replicas: load spread <= the share of the requests one replica cannot see"];
    expect(four?.limit).toBeCloseTo(0.00275 * 376, 9);
    expect(four?.ok).toBe(true);
    expect(Object.values(t).every((x) => x.ok)).toBe(true);
    expect(Object.keys(t)).toHaveLength(17);
  });

  test("one step past any limit is not met", () => {
    const worse: [string, (m: BenchMeasurements) => void][] = [
      ["throughput vs the bare HTTP chain, metrics on, traces off", (m) => (m.tracesOff.perS = 999)],
      [
        "throughput vs the bare HTTP chain, every span exported",
        (m) => ((m.tracesOn as SystemRun).perS = 849),
      ],
      ["p99 vs the bare chain's p99 (traces off)", (m) => (m.tracesOff.latency.p99Ms = 21)],
      [
        "CPU per request, whole chain (charge-api + balancer + substations), traces off, µs",
        (m) => (m.tracesOff.cpuUsPerRequest.substations = 80.5),
      ],
      [
        "balancer CPU per dispatch, 128 substations / 2",
        (m) => ((m.substations128 as SystemRun).cpuUsPerRequest.balancer = 126),
      ],
      ["throughput at 32 substations / at 2", (m) => ((m.substations32 as SystemRun).perS = 799)],
      [
        "journal: group commit (sync normal) / in memory",
        (m) => ((m.memoryJournal as SystemRun).perS = 1060),
      ],
      ["burst: 0 capacity breaches", (m) => (m.burst.breaches = 1)],
      [
        "burst: load spread <= one request's share of the smallest substation",
        (m) => (m.burst.loadSpread = 0.003),
      ],
      ["burst, 2 balancer replicas: 0 capacity breaches", (m) => (replicaRun(m, 2).breaches = 1)],
      [
        "burst, 2 balancer replicas: load spread <= the share of the requests one replica cannot see",
        (m) => (replicaRun(m, 2).loadSpread = 0.00275 * 252),
      ],
      ["simulate: 24 h, 20 substations, 10,000 sessions, 4 policies, seconds", (m) => (m.simulateS = 10.5)],
      ["admission cost at 10,000 sessions <= 2x at 10", (m) => (m.station[1].admitAndStopUs = 21)],
      ["getLoad cost at 10,000 sessions <= 2x at 10", (m) => (m.station[1].getLoadUs = 0.21)],
      [
        "balancer: remembering a dispatch at 200,000 homes (its bound) <= 2x at 2,000",
        (m) => (m.homes[1].rememberUs = 8.1),
      ],
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
    delete m.substations128;
    delete m.memoryJournal;
    delete m.burstReplicas;
    delete m.simulateS;
    const names = benchTargets(m).map((t) => t.name);
    expect(names).not.toContain("throughput at 32 substations / at 2");
    expect(names).toHaveLength(9);
  });
});
