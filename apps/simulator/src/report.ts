/**
 * The report: the same numbers as JSON, and a self-contained HTML page (no server, no network) whose charts
 * are SVG rendered here by Apache ECharts' server-side renderer (`renderToSVGString`, no browser and no DOM
 * needed: a well-kept library that draws time series, bars and step lines alike, and whose SVG any browser
 * shows as it is).
 */
import * as echarts from "echarts";
import type { PolicyResult } from "./engine.ts";
import type { Scenario } from "./scenario.ts";

export interface SimulationReport {
  scenario: { name: string; seed: number; substations: number; vehicles: number; source: string };
  runtimeMs: number;
  policies: Omit<PolicyResult, "waits" | "queue" | "substations">[];
  substations: Record<string, PolicyResult["substations"]>;
  series: { sampleMin: number; queue: Record<string, number[]> };
}

const COLORS = ["#d62728", "#ff7f0e", "#1f77b4", "#2ca02c"];
const hhmm = (min: number) =>
  `${String(Math.floor(min / 60) % 24).padStart(2, "0")}:${String(Math.round(min % 60)).padStart(2, "0")}`;

function svg(option: echarts.EChartsOption, width = 900, height = 320): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  chart.setOption({ animation: false, ...option });
  const out = chart.renderToSVGString();
  chart.dispose();
  // An accessible name (the chart's title) for screen readers and for an <img> of the file.
  const title = (option.title as { text?: string } | undefined)?.text ?? "chart";
  return out.replace(
    /^<svg\b([^>]*)>/,
    `<svg$1 role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>`,
  );
}

/** Each substation's power over the day under every policy, against its capacity and the operator's limit. */
export function powerChart(results: PolicyResult[], siteIndex: number, sampleMin: number): string {
  const site = results[0]?.substations[siteIndex];
  if (!site) return "";
  const times = site.power.map((_, i) => hhmm(i * sampleMin));
  return svg({
    title: { text: `${site.id}: power over the day (kW)`, left: "center", textStyle: { fontSize: 14 } },
    legend: { bottom: 0, type: "plain" },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "category", data: times, axisLabel: { interval: Math.round(120 / sampleMin) - 1 } },
    yAxis: { type: "value", name: "kW" },
    series: [
      ...results.map((r, i) => ({
        name: r.policy.id,
        type: "line" as const,
        showSymbol: false,
        lineStyle: { width: 1.5, color: COLORS[i] },
        itemStyle: { color: COLORS[i] },
        data: (r.substations[siteIndex] as PolicyResult["substations"][number]).power.map((x) =>
          Number(x.toFixed(1)),
        ),
      })),
      {
        name: "capacity",
        type: "line" as const,
        showSymbol: false,
        lineStyle: { type: "dashed", color: "#000" },
        itemStyle: { color: "#000" },
        data: site.power.map(() => site.capacityKw),
      },
      {
        name: "operator limit",
        type: "line" as const,
        step: "end" as const,
        showSymbol: false,
        lineStyle: { type: "dotted", color: "#9467bd", width: 2 },
        itemStyle: { color: "#9467bd" },
        data: site.limit.map((l) => (l === null ? site.capacityKw : Number(l.toFixed(1)))),
      },
    ],
  });
}

/** One policy's step line, in its colour. */
const policySteps = (r: PolicyResult, i: number, data: number[] | number[][]) => ({
  name: r.policy.id,
  type: "line" as const,
  step: "end" as const,
  showSymbol: false,
  lineStyle: { color: COLORS[i] },
  itemStyle: { color: COLORS[i] },
  data,
});

export function queueChart(results: PolicyResult[], sampleMin: number): string {
  const times = (results[0]?.queue ?? []).map((_, i) => hhmm(i * sampleMin));
  return svg({
    title: { text: "Vehicles waiting for power", left: "center", textStyle: { fontSize: 14 } },
    legend: { bottom: 0, type: "plain" },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "category", data: times, axisLabel: { interval: Math.round(120 / sampleMin) - 1 } },
    yAxis: { type: "value", name: "vehicles" },
    series: results.map((r, i) => policySteps(r, i, r.queue)),
  });
}

/** The share of admitted vehicles that waited at most x minutes. */
export function waitCdfChart(results: PolicyResult[]): string {
  const points = (waits: number[]) => {
    if (waits.length === 0) return [[0, 1]];
    const step = Math.max(1, Math.floor(waits.length / 200));
    const out: number[][] = [];
    for (let i = 0; i < waits.length; i += step)
      out.push([Number((waits[i] as number).toFixed(2)), (i + 1) / waits.length]);
    out.push([waits.at(-1) as number, 1]);
    return out;
  };
  return svg({
    title: {
      text: "Waiting time before charging (CDF of admitted vehicles)",
      left: "center",
      textStyle: { fontSize: 14 },
    },
    legend: { bottom: 0, type: "plain" },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "value", name: "minutes" },
    yAxis: { type: "value", min: 0, max: 1, name: "share" },
    series: results.map((r, i) => policySteps(r, i, points(r.waits))),
  });
}

export function unmetChart(results: PolicyResult[]): string {
  return svg(
    {
      title: { text: "Energy wanted but not delivered (%)", left: "center", textStyle: { fontSize: 14 } },
      grid: { left: 60, right: 20, top: 40, bottom: 80 },
      xAxis: { type: "category", data: results.map((r) => r.policy.id), axisLabel: { interval: 0 } },
      yAxis: { type: "value", name: "%" },
      series: [
        {
          type: "bar",
          data: results.map((r, i) => ({
            value: Number(r.unmetPct.toFixed(2)),
            itemStyle: { color: COLORS[i] },
          })),
          label: { show: true, position: "top" },
        },
      ],
    },
    600,
    320,
  );
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
const f1 = (x: number) => x.toFixed(1);

export function buildReport(
  scenario: Scenario,
  source: string,
  results: PolicyResult[],
  runtimeMs: number,
): SimulationReport {
  return {
    scenario: {
      name: scenario.name,
      seed: scenario.seed,
      substations: scenario.substations.length,
      vehicles: results[0]?.vehicles ?? 0,
      source,
    },
    runtimeMs,
    policies: results.map(({ waits: _w, queue: _q, substations: _s, ...rest }) => rest),
    substations: Object.fromEntries(results.map((r) => [r.policy.id, r.substations])),
    series: {
      sampleMin: scenario.sampleMin,
      queue: Object.fromEntries(results.map((r) => [r.policy.id, r.queue])),
    },
  };
}

/** The summary rows the terminal and the HTML both show. */
export function summaryRows(results: PolicyResult[]): string[][] {
  return results.map((r) => {
    const worst = r.substations.reduce((a, b) => (b.peakUtilization > a.peakUtilization ? b : a));
    const above = r.substations.reduce((s, x) => s + x.minutesAboveCapacity, 0);
    const aboveLimit = r.substations.reduce((s, x) => s + x.minutesAboveLimit, 0);
    return [
      r.policy.id,
      `${f1(r.unmetPct)} %`,
      `${r.refused}`,
      `${r.waited}`,
      `${f1(r.waitP50Min)} / ${f1(r.waitP95Min)}`,
      `${(worst.peakUtilization * 100).toFixed(0)} %`,
      `${f1(above)}`,
      `${f1(aboveLimit)}`,
      `${f1((100 * r.overCapacityKwh) / (r.deliveredKwh || 1))} %`,
      r.jainFairness.toFixed(3),
      `${f1(r.curtailedKwh)}`,
    ];
  });
}
export const SUMMARY_HEADER = [
  "policy",
  "unmet energy",
  "refused",
  "waited",
  "wait p50/p95 min",
  "peak utilization",
  "site-minutes over capacity",
  "site-minutes over limit",
  "energy drawn over capacity",
  "Jain fairness",
  "kWh held back by limit",
];

export function renderHtml(scenario: Scenario, report: SimulationReport, results: PolicyResult[]): string {
  const sites = Math.min(4, scenario.substations.length);
  const rows = summaryRows(results);
  const table = (header: string[], body: string[][]) =>
    `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${body
      .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
      .join("")}</tbody></table>`;
  const classes = ["standard", "fleet", "emergency"];
  const classRows = results.map((r) => [
    r.policy.id,
    ...classes.map((c) => {
      const x = r.byClass[c];
      return x ? `${((100 * x.deliveredKwh) / x.wantedKwh).toFixed(1)} % of ${x.vehicles}` : "-";
    }),
  ]);
  const charts = [
    ...Array.from({ length: sites }, (_, i) => powerChart(results, i, scenario.sampleMin)),
    queueChart(results, scenario.sampleMin),
    waitCdfChart(results),
    unmetChart(results),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(scenario.name)}: evgrid simulation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1.5rem 0}
</style></head><body>
<h1>${esc(scenario.name)}</h1>
<p>${report.scenario.vehicles} vehicles, ${scenario.substations.length} substations
(${f1(scenario.substations.reduce((s, x) => s + x.capacityKw, 0))} kW in all), seed ${scenario.seed},
${esc(report.scenario.source)}; four policies replayed on the same arrivals in ${report.runtimeMs} ms.</p>
<h2>What each policy buys</h2>
<p>Policies 1 and 2 admit everyone and let every car draw its maximum: energy they deliver while a site draws
more than its capacity ("energy drawn over capacity") is on paper only, since a real transformer's protection
trips. Policies 3 and 4 never exceed a site's capacity or the operator's limit.</p>
<ol>${results.map((r) => `<li>${esc(r.policy.label)}</li>`).join("")}</ol>
${table(SUMMARY_HEADER, rows)}
<h2>Energy delivered per priority class</h2>
${table(["policy", ...classes], classRows)}
<h2>Charts</h2>
${charts.map((c) => `<figure class="chart">${c}</figure>`).join("\n")}
<script type="application/json" id="results">${JSON.stringify(report).replace(/</g, "\\u003c")}</script>
</body></html>
`;
}
