/**
 * report.html: self-contained (no server, no network: open it from disk), its charts inline SVG. The
 * trade-off comes first, then a verdict per policy, the numbers, the sweep, and every site.
 */
import { PRIORITY_CLASSES } from "@evgrid/policy";
import {
  esc,
  powerChart,
  queueChart,
  seriesStep,
  tradeoffChart,
  unmetChart,
  waitCdfChart,
} from "./charts.ts";
import type { PolicyResult } from "./engine.ts";
import {
  f1,
  optimumNote,
  type SimulationReport,
  SUMMARY_HEADER,
  sitesWorstFirst,
  summaryRows,
} from "./report.ts";
import type { Scenario } from "./scenario.ts";
import { sweepChart } from "./sweep.ts";

/** Sites drawn full size; the others are small multiples one click away. */
const SITES_SHOWN = 4;

const figure = (kind: string, chart: string, attrs = "") =>
  `<figure class="chart" data-chart="${kind}"${attrs}>${chart}</figure>`;

const table = (header: string[], body: string[][]) =>
  `<div class="wide"><table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></div>`;

function sitesSection(scenario: Scenario, results: readonly PolicyResult[]): string {
  const order = sitesWorstFirst(results);
  const shown = order.slice(0, SITES_SHOWN);
  const rest = order.slice(SITES_SHOWN);
  const stepMin = seriesStep(scenario, results);
  const siteFigure = (i: number, small: boolean) =>
    figure(
      "site-power",
      powerChart(results, i, stepMin, small),
      ` data-site="${esc(results[0]?.substations[i]?.id ?? "")}"`,
    );
  const samples = results[0]?.substations[0]?.power.length ?? 0;
  const night =
    (samples - 1) * stepMin > 24 * 60
      ? ` The charts run to the last car's departure: times past midnight read "+1d" (the next day)${
          stepMin > scenario.sampleMin ? `, sampled every ${stepMin} minutes over a run this long` : ""
        }.`
      : "";
  const intro =
    rest.length === 0
      ? `<p>Every site's power over the day under each policy, against its capacity (dashed) and the
operator's limit (dotted).${night}</p>`
      : `<p>The ${shown.length} sites pushed hardest (highest peak utilization under any policy, then minutes over
capacity) are drawn here; the other ${rest.length} are one click away below, as small multiples.${night}</p>`;
  const more =
    rest.length === 0
      ? ""
      : `<details class="more-sites"><summary>The other ${rest.length} sites</summary>
<div class="multiples">${rest.map((i) => siteFigure(i, true)).join("\n")}</div></details>`;
  return `<h2>Every site</h2>
${intro}
${shown.map((i) => siteFigure(i, false)).join("\n")}
${more}`;
}

function classTable(results: readonly PolicyResult[]): string {
  const rows = results.map((r) => [
    r.policy.id,
    ...PRIORITY_CLASSES.map((c) => {
      const x = r.byClass[c];
      return x ? `${((100 * x.deliveredKwh) / x.wantedKwh).toFixed(1)} % of ${x.vehicles}` : "-";
    }),
  ]);
  return table(["policy", ...PRIORITY_CLASSES], rows);
}

export function renderHtml(
  scenario: Scenario,
  report: SimulationReport,
  results: readonly PolicyResult[],
): string {
  const sweep = report.sweep;
  const totalKw = scenario.substations.reduce((s, x) => s + x.capacityKw, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(scenario.name)}: evgrid simulation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.8rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1.5rem 0;overflow-x:auto}
.wide{overflow-x:auto}.multiples{display:flex;flex-wrap:wrap;gap:0 1rem}.multiples figure{margin:.5rem 0}
summary{cursor:pointer;font-weight:600}.verdict{font-family:ui-monospace,monospace;font-size:.85rem}
</style></head><body>
<h1>${esc(scenario.name)}</h1>
<p>${report.scenario.vehicles} vehicles, ${scenario.substations.length} substations (${f1(totalKw)} kW in all),
seed ${scenario.seed}, ${esc(report.scenario.source)}; ${results.length} policies replayed on the same arrivals.</p>
<h2>What each policy buys</h2>
${figure("tradeoff", tradeoffChart(results))}
<p>Energy delivered while a site draws more than its capacity is on paper only: a real transformer's
protection trips. A policy without admission lets every car draw its maximum; this system's policies never
exceed a site's capacity or the operator's limit.</p>
<ul class="verdicts">${report.policies.map((p) => `<li class="verdict">${esc(p.verdict)}</li>`).join("")}</ul>
<h2>The policies</h2>
<ol class="policies">${results.map((r) => `<li><code>${esc(r.policy.id)}</code>: ${esc(r.policy.label)}</li>`).join("")}</ol>
${table(SUMMARY_HEADER, summaryRows(report, results))}
<p class="optimum">${esc(optimumNote(report.optimum))}</p>
<h2>Energy delivered per priority class</h2>
${classTable(results)}
${
  sweep
    ? `<h2>Capacity sweep</h2>
<p>Every policy again with each site at ${sweep.capacityKw[0]} to ${sweep.capacityKw.at(-1)} kW
(${sweep.capacityKw.length} points; the operator's limits are shares of capacity, so they follow).</p>
${figure("sweep", sweepChart(sweep))}`
    : ""
}
${sitesSection(scenario, results)}
<h2>Waiting and what was not delivered</h2>
${figure("queue", queueChart(results, seriesStep(scenario, results)))}
${figure("wait-cdf", waitCdfChart(results))}
${figure("unmet", unmetChart(results))}
<script type="application/json" id="results">${JSON.stringify(report).replace(/</g, "\\u003c")}</script>
</body></html>
`;
}
