/**
 * The report's charts, as SVG drawn here by Apache ECharts' server-side renderer (`renderToSVGString`: no
 * browser and no DOM needed, a well-kept library that draws time series, bars and step lines alike, and whose
 * SVG any browser shows as it is). One colour per policy, by its place in the run, whatever the list.
 */
import * as echarts from "echarts";
import type { PolicyResult } from "./engine.ts";

/** Tableau 10: distinct enough for up to ten policies side by side; more cycle. */
const PALETTE = [
  "#d62728",
  "#ff7f0e",
  "#1f77b4",
  "#2ca02c",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
  "#7f7f7f",
];
export const colorOf = (i: number) => PALETTE[i % PALETTE.length] as string;

export const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

const DAY_MIN = 24 * 60;
const pad = (n: number) => String(n).padStart(2, "0");
/**
 * A time of the run on a chart's axis: the day's clock, "+1d 02:00" past midnight (the next morning, as a
 * planner reads a night; a run can cover days when cars park for days).
 */
export const clockLabel = (min: number) => {
  const m = Math.round(min);
  const day = Math.floor(m / DAY_MIN);
  const hhmm = `${pad(Math.floor((m % DAY_MIN) / 60))}:${pad(m % 60)}`;
  return day > 0 ? `+${day}d ${hhmm}` : hhmm;
};

/**
 * Minutes between the time axis' labels: every 2 hours over a day (6 on a thumbnail), longer as the run
 * covers more (at most about 12 labels, 4 on a thumbnail), always a divisor or multiple of a day, so
 * midnight is labelled.
 */
const labelStepMin = (spanMin: number, small: boolean) => {
  const most = small ? 4 : 12;
  const step = [120, 180, 240, 360, 720].find((m) => (!small || m >= 360) && spanMin / m <= most);
  return step ?? DAY_MIN * Math.ceil(spanMin / DAY_MIN / most);
};

/** Minutes between the samples of a run's series: its `sampleMin`, longer over a run of days (seriesStepOf). */
export const seriesStep = (scenario: { sampleMin: number }, results: readonly PolicyResult[]) =>
  results[0]?.seriesStepMin ?? scenario.sampleMin;

/** A category time axis over `n` samples `stepMin` apart, labelled by `labelStepMin`. */
const timeAxis = (n: number, stepMin: number, small = false) => ({
  type: "category" as const,
  data: Array.from({ length: n }, (_, i) => clockLabel(i * stepMin)),
  axisLabel: { interval: Math.max(0, Math.round(labelStepMin((n - 1) * stepMin, small) / stepMin) - 1) },
});

export function svg(option: echarts.EChartsOption, width = 900, height = 320): string {
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

/** A chart's title, centred (the sweep's chart too). */
export const chartTitle = (text: string, fontSize = 14) => ({
  text,
  left: "center",
  textStyle: { fontSize },
});

/** Every `n` samples folded into one by `pick` (the peak, say): a thumbnail that draws fast and keeps peaks. */
const fold = <T>(xs: readonly T[], n: number, pick: (a: T, b: T) => T): T[] => {
  if (n <= 1) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n).reduce((a, b) => pick(a, b)));
  return out;
};
const SMALL_STEP_MIN = 15;
const tightest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * One substation's power over the day under every policy, against its capacity and the operator's limit.
 * `small`: a thumbnail for the small multiples (no legend, fewer labels, each 15 minutes' peak: a page
 * with hundreds of sites renders in seconds, not a minute).
 */
export function powerChart(
  results: readonly PolicyResult[],
  siteIndex: number,
  sampleMin: number,
  small = false,
): string {
  const site = results[0]?.substations[siteIndex];
  if (!site) return "";
  const every = small ? Math.max(1, Math.round(SMALL_STEP_MIN / sampleMin)) : 1;
  const xAxis = timeAxis(Math.ceil(site.power.length / every), sampleMin * every, small);
  const line = (name: string, color: string, data: number[], extra: object = {}) => ({
    name,
    type: "line" as const,
    showSymbol: false,
    lineStyle: { width: small ? 1 : 1.5, color },
    itemStyle: { color },
    data,
    ...extra,
  });
  return svg(
    {
      title: chartTitle(`${site.id}: power over the day (kW)`, small ? 12 : 14),
      legend: small ? undefined : { bottom: 0, type: "plain" },
      grid: small
        ? { left: 50, right: 10, top: 30, bottom: 25 }
        : { left: 60, right: 20, top: 40, bottom: 60 },
      xAxis,
      yAxis: { type: "value", name: small ? undefined : "kW" },
      series: [
        ...results.map((r, i) =>
          line(
            r.policy.id,
            colorOf(i),
            fold(
              (r.substations[siteIndex] as PolicyResult["substations"][number]).power,
              every,
              Math.max,
            ).map((x) => Number(x.toFixed(1))),
          ),
        ),
        line(
          "capacity",
          "#000",
          xAxis.data.map(() => site.capacityKw),
          { lineStyle: { type: "dashed", color: "#000", width: 1 } },
        ),
        line(
          "operator limit",
          "#6a3d9a",
          fold(site.limit, every, tightest).map((l) => (l === null ? site.capacityKw : Number(l.toFixed(1)))),
          { step: "end", lineStyle: { type: "dotted", color: "#6a3d9a", width: 2 } },
        ),
      ],
    },
    small ? 440 : 900,
    small ? 220 : 320,
  );
}

/** One policy's step line, in its colour. */
const policySteps = (r: PolicyResult, i: number, data: number[] | number[][]) => ({
  name: r.policy.id,
  type: "line" as const,
  step: "end" as const,
  showSymbol: false,
  lineStyle: { color: colorOf(i) },
  itemStyle: { color: colorOf(i) },
  data,
});

export function queueChart(results: readonly PolicyResult[], sampleMin: number): string {
  return svg({
    title: chartTitle("Vehicles waiting for power"),
    legend: { bottom: 0, type: "plain" },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: timeAxis(results[0]?.queue.length ?? 0, sampleMin),
    yAxis: { type: "value", name: "vehicles" },
    series: results.map((r, i) => policySteps(r, i, r.queue)),
  });
}

/** The share of admitted vehicles that waited at most x minutes. */
export function waitCdfChart(results: readonly PolicyResult[]): string {
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
    title: chartTitle("Waiting time before charging (CDF of admitted vehicles)"),
    legend: { bottom: 0, type: "plain" },
    grid: { left: 60, right: 20, top: 40, bottom: 60 },
    xAxis: { type: "value", name: "minutes" },
    yAxis: { type: "value", min: 0, max: 1, name: "share" },
    series: results.map((r, i) => policySteps(r, i, points(r.waits))),
  });
}

/** One bar (or one group of bars) per policy, its id under it, slanted when there are many. */
const policyBars = (
  results: readonly PolicyResult[],
  option: { title: string; yName: string; left: number; legend?: boolean; series: echarts.BarSeriesOption[] },
  size: { perPolicy: number; minWidth: number; height: number },
) =>
  svg(
    {
      title: chartTitle(option.title),
      ...(option.legend ? { legend: { bottom: 0, type: "plain" } } : {}),
      grid: { left: option.left, right: 20, top: 40, bottom: 80 },
      xAxis: {
        type: "category",
        data: results.map((r) => r.policy.id),
        axisLabel: { interval: 0, rotate: results.length > 5 ? 20 : 0 },
      },
      yAxis: { type: "value", name: option.yName },
      series: option.series,
    },
    Math.max(size.minWidth, size.perPolicy * results.length),
    size.height,
  );

export function unmetChart(results: readonly PolicyResult[]): string {
  return policyBars(
    results,
    {
      title: "Energy wanted but not delivered (%)",
      yName: "%",
      left: 60,
      series: [
        {
          type: "bar",
          data: results.map((r, i) => ({
            value: Number(r.unmetPct.toFixed(2)),
            itemStyle: { color: colorOf(i) },
          })),
          label: { show: true, position: "top" },
        },
      ],
    },
    { perPolicy: 110, minWidth: 600, height: 320 },
  );
}

/**
 * The trade-off, first thing on the page: per policy, the energy a real grid would have supplied (delivered
 * while its site was within both its capacity and the operator's limit) next to the energy drawn over
 * capacity (on paper only: a real transformer's protection trips).
 */
export function tradeoffChart(results: readonly PolicyResult[]): string {
  const kwh = (x: number) => Number(x.toFixed(1));
  return policyBars(
    results,
    {
      title: "Energy delivered within limits vs energy drawn over capacity (kWh)",
      yName: "kWh",
      left: 80,
      legend: true,
      series: [
        {
          name: "delivered within limits",
          type: "bar",
          itemStyle: { color: "#2ca02c" },
          data: results.map((r) => kwh(r.withinLimitsKwh)),
        },
        {
          name: "drawn over capacity",
          type: "bar",
          itemStyle: { color: "#d62728" },
          // A zero bar is invisible; its label still says 0.
          label: { show: true, position: "top" },
          data: results.map((r) => kwh(r.overCapacityKwh)),
        },
      ],
    },
    { perPolicy: 130, minWidth: 900, height: 360 },
  );
}
