/**
 * The report's numbers: report.json, the summary table the terminal and the page share, and one line of
 * verdict per policy. Nothing here depends on the clock: the same seed gives the same bytes (the run's
 * timings go to stderr and `timing.json`).
 */
import type { PolicyResult } from "./engine.ts";
import type { OptimumResult } from "./records.ts";
import type { Scenario } from "./scenario.ts";
import type { SweepResult } from "./sweep.ts";

/** The offline optimum as solved, or why it was not (shown in its column and under the table). */
export type OptimumInput = OptimumResult | { reason: string };

export type OptimumSummary =
  | ({ computed: true } & Omit<OptimumResult, "solveMs">)
  /** `status`: the solver's, when it answered without proving an optimum. */
  | { computed: false; reason: string; status?: string };

export interface ReportInput {
  scenario: Scenario;
  /** Where the arrivals came from, in words. */
  source: string;
  results: readonly PolicyResult[];
  optimum?: OptimumInput;
  sweep?: SweepResult;
}

export interface SimulationReport {
  scenario: { name: string; seed: number; substations: number; vehicles: number; source: string };
  optimum: OptimumSummary;
  policies: (Omit<PolicyResult, "waits" | "queue" | "substations" | "seriesStepMin"> & {
    /** Energy delivered within limits as a share of the optimum; null when it was not computed. */
    shareOfOptimumPct: number | null;
    verdict: string;
  })[];
  substations: Record<string, PolicyResult["substations"]>;
  /** `sampleMin`: minutes between the samples of every series (the scenario's, longer over a run of days). */
  series: { sampleMin: number; queue: Record<string, number[]> };
  sweep: SweepResult | null;
}

const NO_OPTIMUM = "no optimum was given to the report";

/**
 * The optimum the report measures against, or why there is none. Only a proved one counts: the solver's
 * Optimal, or the bound a greedy schedule reached (no solver needed, `provedBy: "bound"`). A solver stopped
 * by its time limit, or in any other state, gives a number that is no optimum: no share is taken of it.
 */
export function optimumSummary(optimum: OptimumInput | undefined): OptimumSummary {
  if (!optimum) return { computed: false, reason: NO_OPTIMUM };
  if ("reason" in optimum) return { computed: false, reason: optimum.reason };
  if (optimum.status !== "Optimal" && optimum.provedBy !== "bound")
    return {
      computed: false,
      reason: `the solver stopped at ${optimum.status}, not Optimal, so no optimum was proved`,
      status: optimum.status,
    };
  // The solve time varies from run to run: it belongs to timing.json, not to the report's numbers.
  const { solveMs: _t, ...rest } = optimum;
  return { computed: true, ...rest };
}

export const f1 = (x: number) => x.toFixed(1);
/** 12,345: whole numbers with thousands separators (fixed, not the machine's locale). */
export const int = (x: number) => String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
/** 3, 6.6: at most one decimal, none when it is whole. */
const short = (x: number) => String(Number(x.toFixed(1)));

const sum = (r: PolicyResult, key: "minutesAboveCapacity" | "minutesAboveLimit") =>
  r.substations.reduce((s, x) => s + x[key], 0);

/** Energy a real grid would have supplied (not what was drawn over capacity) against the optimum's, in %. */
export function shareOfOptimumPct(r: PolicyResult, optimum: OptimumSummary): number | null {
  if (!optimum.computed) return null;
  if (optimum.deliveredKwh <= 0) return r.withinLimitsKwh <= 0 ? 100 : null;
  return (100 * r.withinLimitsKwh) / optimum.deliveredKwh;
}

/**
 * One line a planner can quote, e.g. "evgrid: 97.1 % of the optimum, 0 min over capacity or limit,
 * p95 wait 3 min"; cars that found every EVSE busy and left are counted at the end when there are any
 * ("79 of 105 cars left, no free EVSE"): the energy shares alone would hide that most got nothing.
 */
export function verdictLine(r: PolicyResult, optimum: OptimumSummary): string {
  const share = shareOfOptimumPct(r, optimum);
  const energy =
    share === null
      ? `${f1(r.wantedKwh === 0 ? 100 : (100 * r.withinLimitsKwh) / r.wantedKwh)} % of the energy asked delivered within limits`
      : `${f1(share)} % of the optimum`;
  const overCapacity = sum(r, "minutesAboveCapacity");
  const overLimit = sum(r, "minutesAboveLimit");
  const over =
    overCapacity === 0 && overLimit === 0
      ? "0 min over capacity or limit"
      : `${int(overCapacity)} site-min over capacity, ${int(overLimit)} over the limit` +
        (r.overCapacityKwh > 0 ? ` (${int(r.overCapacityKwh)} kWh drawn over capacity, on paper only)` : "");
  const noEvse = r.noEvse > 0 ? `, ${int(r.noEvse)} of ${int(r.vehicles)} cars left, no free EVSE` : "";
  return `${r.policy.id}: ${energy}, ${over}, p95 wait ${short(r.waitP95Min)} min${noEvse}`;
}

export function buildReport(input: ReportInput): SimulationReport {
  const { scenario, source, results } = input;
  const optimum = optimumSummary(input.optimum);
  return {
    scenario: {
      name: scenario.name,
      seed: scenario.seed,
      substations: scenario.substations.length,
      vehicles: results[0]?.vehicles ?? 0,
      source,
    },
    optimum,
    policies: results.map((r) => {
      const { waits: _w, queue: _q, substations: _s, seriesStepMin: _m, ...rest } = r;
      return { ...rest, shareOfOptimumPct: shareOfOptimumPct(r, optimum), verdict: verdictLine(r, optimum) };
    }),
    substations: Object.fromEntries(results.map((r) => [r.policy.id, r.substations])),
    series: {
      sampleMin: results[0]?.seriesStepMin ?? scenario.sampleMin,
      queue: Object.fromEntries(results.map((r) => [r.policy.id, r.queue])),
    },
    sweep: input.sweep ?? null,
  };
}

/** report.json's text: the same report, the same bytes. */
export const reportJson = (report: SimulationReport) => `${JSON.stringify(report, null, 2)}\n`;

export const SUMMARY_HEADER = [
  "policy",
  "delivered kWh",
  "within limits kWh",
  "of the optimum",
  "unmet energy",
  "refused",
  "no free EVSE",
  "waited",
  "wait p50/p95 min",
  "peak utilization",
  "site-min over capacity",
  "site-min over limit",
  "drawn over capacity (of delivered)",
  "Jain fairness",
  "kWh held back by limit",
];

/** The summary rows the terminal and the HTML both show. */
export function summaryRows(report: SimulationReport, results: readonly PolicyResult[]): string[][] {
  return results.map((r, i) => {
    const worst = r.substations.reduce((a, b) => (b.peakUtilization > a.peakUtilization ? b : a));
    const share = report.policies[i]?.shareOfOptimumPct ?? null;
    return [
      r.policy.id,
      int(r.deliveredKwh),
      int(r.withinLimitsKwh),
      share === null ? "not computed" : `${f1(share)} %`,
      `${f1(r.unmetPct)} %`,
      `${r.refused}`,
      `${r.noEvse}`,
      `${r.waited}`,
      `${f1(r.waitP50Min)} / ${f1(r.waitP95Min)}`,
      `${(worst.peakUtilization * 100).toFixed(0)} %`,
      int(sum(r, "minutesAboveCapacity")),
      int(sum(r, "minutesAboveLimit")),
      `${f1((100 * r.overCapacityKwh) / (r.deliveredKwh || 1))} %`,
      r.jainFairness.toFixed(3),
      int(r.curtailedKwh),
    ];
  });
}

/** Why the optimum column says what it says, in a sentence. */
export function optimumNote(optimum: OptimumSummary): string {
  return optimum.computed
    ? `The offline optimum (a linear program with perfect foresight of every arrival, under capacity, limits ` +
        `and each car's maximum) delivers ${int(optimum.deliveredKwh)} kWh (solver: ${optimum.status}, ` +
        `${optimum.stepMin}-minute steps, ${int(optimum.variables)} variables, ${
          optimum.sites === "fixed" ? "each car at its station's site" : "the sites pooled"
        }). Each policy is measured by the ` +
        `energy it delivered within limits.`
    : `Share of the offline optimum: not computed (${optimum.reason}).`;
}

/** Sites by how hard any policy pushed them: peak utilization, then minutes over capacity, then their order. */
export function sitesWorstFirst(results: readonly PolicyResult[]): number[] {
  const sites = results[0]?.substations ?? [];
  const score = (i: number) => {
    let peak = 0;
    let over = 0;
    for (const r of results) {
      const s = r.substations[i];
      if (!s) continue;
      peak = Math.max(peak, s.peakUtilization);
      over += s.minutesAboveCapacity + s.minutesAboveLimit;
    }
    return { peak, over };
  };
  const scores = sites.map((_, i) => score(i));
  return sites
    .map((_, i) => i)
    .sort((a, b) => {
      const x = scores[a] as { peak: number; over: number };
      const y = scores[b] as { peak: number; over: number };
      return y.peak - x.peak || y.over - x.over || a - b;
    });
}
