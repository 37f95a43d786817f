/**
 * `--sweep capacity=30:150:10`: every chosen policy again at each capacity (kW, the same for every site), to
 * see where buying capacity stops paying. The operator's limits are shares of capacity, so they follow.
 */
import type { Arrival } from "./arrivals.ts";
import { chartTitle, colorOf, svg } from "./charts.ts";
import type { Policy, PolicyResult } from "./engine.ts";
import { MAX_CAPACITY_KW, type Scenario } from "./scenario.ts";

/** How many points a sweep may have unless `--sweep-max-points` says otherwise: each is a full day per policy. */
export const DEFAULT_SWEEP_MAX_POINTS = 50;
/** `--sweep-max-points` at most: 1,000 days per policy is hours of replay already, and an array that fits. */
export const MAX_SWEEP_POINTS = 1000;

export interface SweepSpec {
  parameter: "capacity";
  valuesKw: number[];
}

export interface SweepResult {
  parameter: "capacity";
  /** Each site's capacity at each point, kW. */
  capacityKw: number[];
  policies: {
    id: string;
    deliveredKwh: number[];
    withinLimitsKwh: number[];
    overCapacityKwh: number[];
  }[];
}

const SYNTAX = "expected capacity=START:END:STEP in kW, e.g. capacity=30:150:10";

/** Whole steps from START to END, within this much of one (binary fractions: 0.1:0.3:0.1 is 2 steps). */
const STEP_TOLERANCE = 1e-6;

const kw = (x: number) => String(Number(x.toFixed(6)));
const MIN_SWEEP_KW = 0.001;

/**
 * Parses `capacity=START:END:STEP` (END included, and reached: START plus a whole number of STEPs, or it is
 * refused with the two ENDs nearest that are, rather than a sweep that silently stops short); a message
 * saying what is wrong, or the points. The points are counted before any is made, and held to
 * `maxPoints`, itself at most `MAX_SWEEP_POINTS`.
 */
export function parseSweep(text: string, maxPoints: number): SweepSpec | { error: string } {
  const m = /^capacity=([^:]+):([^:]+):([^:]+)$/.exec(text.trim());
  if (!m) return { error: SYNTAX };
  const [start, end, step] = [m[1], m[2], m[3]].map((x) => (/^\d+(\.\d+)?$/.test(x ?? "") ? Number(x) : NaN));
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step))
    return { error: `${SYNTAX} (START, END and STEP are plain numbers)` };
  const s = start as number;
  const e = end as number;
  const d = step as number;
  if (s <= 0) return { error: "START must be more than 0 kW" };
  if (e < s) return { error: `END (${e}) must not be below START (${s})` };
  if (e > MAX_CAPACITY_KW) return { error: `END must be at most ${MAX_CAPACITY_KW} kW` };
  if (d <= 0) return { error: "STEP must be more than 0 kW" };
  const steps = (e - s) / d;
  const points = Math.floor(steps + STEP_TOLERANCE) + 1;
  const max = Math.min(maxPoints, MAX_SWEEP_POINTS);
  if (points > max)
    return { error: `${points} points, more than --sweep-max-points ${max}: take a larger STEP` };
  // Points are kW to the watt's thousandth: a finer START or STEP would give points that round alike.
  if (s < MIN_SWEEP_KW || d < MIN_SWEEP_KW)
    return { error: `START and STEP must be at least ${MIN_SWEEP_KW} kW (a watt)` };
  if (Math.abs(steps - Math.round(steps)) > STEP_TOLERANCE) {
    const below = s + (points - 1) * d;
    const above = below + d;
    const ends = [below, ...(above <= MAX_CAPACITY_KW ? [above] : [])].map(
      (x) => `capacity=${kw(s)}:${kw(x)}:${kw(d)}`,
    );
    return { error: `END ${kw(e)} is not START plus a whole number of STEPs: ${ends.join(" or ")}` };
  }
  return {
    parameter: "capacity",
    valuesKw: Array.from({ length: points }, (_, i) => Number((s + i * d).toFixed(6))),
  };
}

type Simulate = (scenario: Scenario, arrivals: readonly Arrival[], policy: Policy) => PolicyResult;

/** Runs the day at each capacity under each policy; `progress` hears each point as it is done. */
export function runSweep(
  scenario: Scenario,
  arrivals: readonly Arrival[],
  policies: readonly Policy[],
  spec: SweepSpec,
  simulate: Simulate,
  progress: (capacityKw: number) => void = () => {},
): SweepResult {
  const rows = policies.map((p) => ({
    id: p.id as string,
    deliveredKwh: [] as number[],
    withinLimitsKwh: [] as number[],
    overCapacityKwh: [] as number[],
  }));
  for (const capacityKw of spec.valuesKw) {
    const at: Scenario = {
      ...scenario,
      substations: scenario.substations.map((s) => ({ ...s, capacityKw })),
    };
    for (const [i, policy] of policies.entries()) {
      const r = simulate(at, arrivals, policy);
      const row = rows[i] as (typeof rows)[number];
      row.deliveredKwh.push(r.deliveredKwh);
      row.withinLimitsKwh.push(r.withinLimitsKwh);
      row.overCapacityKwh.push(r.overCapacityKwh);
    }
    progress(capacityKw);
  }
  return { parameter: "capacity", capacityKw: spec.valuesKw, policies: rows };
}

/** Energy delivered within limits against each site's capacity, one line per policy. */
export function sweepChart(sweep: SweepResult): string {
  return svg({
    title: chartTitle("Energy delivered within limits against each site's capacity (kWh)"),
    legend: { bottom: 0, type: "plain" },
    grid: { left: 80, right: 30, top: 40, bottom: 70 },
    xAxis: {
      type: "value",
      name: "kW per site",
      nameLocation: "middle",
      nameGap: 25,
      min: "dataMin",
      max: "dataMax",
    },
    yAxis: { type: "value", name: "kWh" },
    series: sweep.policies.map((p, i) => ({
      name: p.id,
      type: "line" as const,
      showSymbol: true,
      symbolSize: 5,
      lineStyle: { color: colorOf(i) },
      itemStyle: { color: colorOf(i) },
      data: p.withinLimitsKwh.map((kwh, j) => [sweep.capacityKw[j] as number, Number(kwh.toFixed(1))]),
    })),
  });
}
