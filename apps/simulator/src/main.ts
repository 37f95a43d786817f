/**
 * `bun run simulate`: a day of charging replayed in virtual time through the policy code the apps run, the
 * chosen policies side by side on the same arrivals, an HTML report with charts, the same numbers as JSON
 * and one CSV line per session. Timings go to stderr and timing.json only, so report.json is reproducible.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseCommandLine } from "@evgrid/kit/cli";
import { powerChart } from "./charts.ts";
import { FLAGS, flagSchema, HELP } from "./command-line.ts";
import { type PolicyResult, simulate } from "./engine.ts";
import { renderHtml } from "./html.ts";
import { offlineOptimum } from "./optimum.ts";
import { optimumOrReason } from "./optimum-gate.ts";
import { SessionsCsvWriter } from "./records-csv.ts";
import { buildReport, optimumNote, reportJson, SUMMARY_HEADER, summaryRows } from "./report.ts";
import { loadScenario, ScenarioError } from "./scenario.ts";
import { scenarioArrivals } from "./sessions-csv.ts";
import { runSweep, type SweepResult } from "./sweep.ts";

const flags = parseCommandLine({ command: "simulate", help: HELP, flags: FLAGS, schema: flagSchema });

const say = (s: string) => {
  if (!flags.json) process.stderr.write(`${s}\n`);
};

try {
  const started = performance.now();
  const timing: {
    policiesMs: Record<string, number>;
    sweepMs?: number;
    optimumMs?: number;
    reportMs?: number;
    runtimeMs?: number;
  } = { policiesMs: {} };
  const { scenario, dir } = loadScenario(flags.scenario);
  const arrivals = scenarioArrivals(scenario, dir);
  const source = scenario.sessionsCsv ? `sessions from ${scenario.sessionsCsv}` : "Poisson arrivals";
  say(`${scenario.name}: ${arrivals.length} vehicles, ${scenario.substations.length} substations`);
  const out = resolve(flags.out);
  mkdirSync(out, { recursive: true });
  const results: PolicyResult[] = [];
  {
    using csv = new SessionsCsvWriter(resolve(out, "sessions.csv"));
    for (const [i, policy] of flags.policies.entries()) {
      const t0 = performance.now();
      results.push(simulate(scenario, arrivals, policy, { onSession: (r) => csv.add(policy.id, r) }));
      const ms = Math.round(performance.now() - t0);
      timing.policiesMs[policy.id] = ms;
      say(`  ${i + 1}. ${policy.id.padEnd(20)} ${policy.label.padEnd(64)} ${ms} ms`);
    }
  }
  let sweep: SweepResult | undefined;
  if (flags.sweep) {
    const t0 = performance.now();
    sweep = runSweep(scenario, arrivals, flags.policies, flags.sweep, simulate, (kw) =>
      say(`  sweep: ${kw} kW per site done`),
    );
    timing.sweepMs = Math.round(performance.now() - t0);
  }
  const optimum = await optimumOrReason(scenario, arrivals, flags.optimumMaxSessions, offlineOptimum);
  if (!("reason" in optimum)) timing.optimumMs = optimum.solveMs;
  const t0 = performance.now();
  const report = buildReport({ scenario, source, results, optimum, sweep });
  writeFileSync(resolve(out, "report.json"), reportJson(report));
  writeFileSync(resolve(out, "report.html"), renderHtml(scenario, report, results));
  // The first substation's power chart on its own, to put in a document.
  writeFileSync(resolve(out, "substation-power.svg"), powerChart(results, 0, scenario.sampleMin));
  timing.reportMs = Math.round(performance.now() - t0);
  timing.runtimeMs = Math.round(performance.now() - started);
  writeFileSync(resolve(out, "timing.json"), `${JSON.stringify(timing, null, 2)}\n`);
  if (flags.json) console.log(JSON.stringify(report));
  else {
    const rows = [SUMMARY_HEADER, ...summaryRows(report, results)];
    const widths = SUMMARY_HEADER.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    for (const r of rows)
      console.log(
        r
          .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
          .join("  "),
      );
    console.log("");
    for (const p of report.policies) console.log(p.verdict);
    console.log(optimumNote(report.optimum));
    console.log(`\nreport: ${resolve(out, "report.html")} (and report.json, sessions.csv)`);
    say(`${timing.runtimeMs} ms in all`);
  }
} catch (err) {
  if (err instanceof ScenarioError) {
    console.error(`simulate: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
