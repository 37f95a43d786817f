/**
 * `bun run simulate`: a day of charging replayed in virtual time through the policy code the apps run, the
 * chosen policies side by side on the same arrivals, an HTML report with charts, the same numbers as JSON
 * and one CSV line per session. Timings go to stderr and timing.json only, so report.json is reproducible.
 */
import { resolve } from "node:path";
import { parseCommandLine } from "@evgrid/kit/cli";
import { powerChart, seriesStep } from "./charts.ts";
import { FLAGS, flagSchema, HELP } from "./command-line.ts";
import { type PolicyResult, simulate } from "./engine.ts";
import { renderHtml } from "./html.ts";
import { offlineOptimum } from "./optimum.ts";
import { optimumOrReason } from "./optimum-gate.ts";
import { OutputError, prepareOutDir, refuseOverwritingInputs, writeOutput, writeStdout } from "./output.ts";
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
  // Where the report goes is settled before the sessions are read: a million rows are not replayed to find
  // that it cannot be written, or that it would be written over them.
  const out = prepareOutDir(flags.out);
  refuseOverwritingInputs(out, [
    { path: flags.scenario, what: "the scenario file" },
    ...(scenario.sessionsCsv
      ? [{ path: resolve(dir, scenario.sessionsCsv), what: "the scenario's sessionsCsv" }]
      : []),
  ]);
  const arrivals = scenarioArrivals(scenario, dir);
  const source = scenario.sessionsCsv ? `sessions from ${scenario.sessionsCsv}` : "Poisson arrivals";
  say(`${scenario.name}: ${arrivals.length} vehicles, ${scenario.substations.length} substations`);
  const results: PolicyResult[] = [];
  {
    using csv = new SessionsCsvWriter(resolve(out, "sessions.csv"));
    for (const [i, policy] of flags.policies.entries()) {
      const t0 = performance.now();
      results.push(simulate(scenario, arrivals, policy, { onSession: (r) => csv.add(policy.id, r) }));
      const ms = Math.round(performance.now() - t0);
      timing.policiesMs[policy.id] = ms;
      say(`  ${i + 1}. ${policy.id.padEnd(20)} ${policy.label.padEnd(64)} ${ms} ms`);
      // What this policy's day left behind is garbage now: collected before the next day starts, not
      // under it, so a run of several policies peaks at about one policy's memory, not the sum.
      Bun.gc(true);
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
  writeOutput(resolve(out, "report.json"), reportJson(report));
  writeOutput(resolve(out, "report.html"), renderHtml(scenario, report, results));
  // The first substation's power chart on its own, to put in a document.
  writeOutput(resolve(out, "substation-power.svg"), powerChart(results, 0, seriesStep(scenario, results)));
  timing.reportMs = Math.round(performance.now() - t0);
  timing.runtimeMs = Math.round(performance.now() - started);
  writeOutput(resolve(out, "timing.json"), `${JSON.stringify(timing, null, 2)}\n`);
  if (flags.json) await writeStdout(`${JSON.stringify(report)}\n`);
  else {
    const rows = [SUMMARY_HEADER, ...summaryRows(report, results)];
    const widths = SUMMARY_HEADER.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    const table = rows.map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  "),
    );
    const verdicts = report.policies.map((p) => p.verdict);
    const where = `report: ${resolve(out, "report.html")} (and report.json, sessions.csv)`;
    // Written and waited for: a full disk or a closed pipe under the table is a failed run, not exit 0.
    await writeStdout(`${[...table, "", ...verdicts, optimumNote(report.optimum), "", where].join("\n")}\n`);
    say(`${timing.runtimeMs} ms in all`);
  }
} catch (err) {
  if (err instanceof ScenarioError || err instanceof OutputError) {
    console.error(`simulate: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
