/**
 * `bun run simulate`: a day of charging replayed in virtual time through the policy code the apps run, four
 * policies side by side on the same arrivals, an HTML report with charts and the same numbers as JSON.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseCommandLine } from "@evgrid/kit/cli";
import { z } from "zod";
import { type Arrival, generateArrivals } from "./arrivals.ts";
import { POLICIES, type PolicyResult, simulate } from "./engine.ts";
import { buildReport, powerChart, renderHtml, SUMMARY_HEADER, summaryRows } from "./report.ts";
import { loadScenario, ScenarioError } from "./scenario.ts";
import { readSessionsCsv } from "./sessions-csv.ts";

const HELP = `Usage: bun run simulate [--scenario <file>] [--out <dir>] [--json]

Replays a day of charging in virtual time (seconds, not a day) through the same admission, fair-sharing,
choice, curtailment and wait-queue code the apps run, under four policies on the same arrivals:
  1. fewest-sessions     the original system: fewest active sessions, no admission (overloads counted)
  2. least-utilization   least utilization, no admission
  3. evgrid              capacity-weighted choice, admission on minimums, water-filling, waiting
  4. evgrid-priorities   the same, with priority classes as weights and queue order
Writes <out>/report.html (self-contained: open it from disk), <out>/report.json and
<out>/substation-power.svg (the first substation's chart).

Options:
  --scenario <file>  JSON or YAML scenario        (default: apps/simulator/scenarios/workplace-and-home.yaml)
  --out <dir>        where the report goes        (default: simulation/)
  --json             print the report's JSON instead of the table
  -h, --help         this help

Scenario format (every field checked; an error names the field):
  name: text                         seed: integer (same seed, same day)
  substations: [{ id: substation-1, capacityKw: 150 }, ...]
  operatorLimits: [{ from: "17:00", to: "19:00", share: 0.6, substations: [ids] (default all) }]
  arrivals:                          a Poisson process over the day...
    perDay: 10000                    expected arrivals
    peaks: [{ at: "08:30", spreadH: 1, share: 0.35 }, { at: "18:30", spreadH: 1.5, share: 0.4 }]
                                     (the rest arrive evenly over the day)
  sessionsCsv: sessions.csv          ...or real sessions, ACN-Data layout: connectionTime, disconnectTime,
                                     kWhDelivered (other columns ignored; path relative to the scenario)
                                     optional: stationID (overlaps refused), maxKw or maxPowerKw (kW)
  maxCsvMb: 2048                     a larger sessionsCsv is refused before it is read
  maxDwellH: 168                     a CSV session parked longer is refused (its line named)
  vehicles: [{ name, share, maxKw, minKw }]   the mix (default: AC 7.4 / 11 / 22 kW, DC 100 kW)
  energyKwh: { mean, sd, min, max }  energy wanted        dwellH: { mean, sd, min, max }  time parked
  priorities: { fleet: 0.1, emergency: 0.01 }   shares of arrivals above standard
  maxWaitMin: 30                     how long a refused vehicle waits for power (policies 3 and 4)
  sampleMin: 5                       chart resolution`;

const flags = parseCommandLine({
  command: "simulate",
  help: HELP,
  flags: { scenario: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
  schema: z.object({
    scenario: z
      .string()
      .min(1)
      .default(resolve(import.meta.dir, "../scenarios/workplace-and-home.yaml")),
    out: z.string().min(1).default("simulation"),
    json: z.boolean().default(false),
  }),
});

const say = (s: string) => {
  if (!flags.json) process.stderr.write(`${s}\n`);
};

try {
  const started = performance.now();
  const { scenario, dir } = loadScenario(flags.scenario);
  const arrivals: Arrival[] = scenario.sessionsCsv
    ? readSessionsCsv(scenario, dir)
    : generateArrivals(scenario);
  const source = scenario.sessionsCsv ? `sessions from ${scenario.sessionsCsv}` : "Poisson arrivals";
  say(`${scenario.name}: ${arrivals.length} vehicles, ${scenario.substations.length} substations`);
  const results: PolicyResult[] = [];
  for (const policy of POLICIES) {
    const t0 = performance.now();
    results.push(simulate(scenario, arrivals, policy));
    say(`  ${policy.label.padEnd(64)} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const runtimeMs = Math.round(performance.now() - started);
  const report = buildReport(scenario, source, results, runtimeMs);
  const out = resolve(flags.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(resolve(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(resolve(out, "report.html"), renderHtml(scenario, report, results));
  // The first substation's power chart on its own, to put in a document.
  writeFileSync(resolve(out, "substation-power.svg"), powerChart(results, 0, scenario.sampleMin));
  if (flags.json) console.log(JSON.stringify(report));
  else {
    const rows = [SUMMARY_HEADER, ...summaryRows(results)];
    const widths = SUMMARY_HEADER.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    for (const r of rows)
      console.log(
        r
          .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
          .join("  "),
      );
    console.log(`\nreport: ${resolve(out, "report.html")} (and report.json), ${runtimeMs} ms in all`);
  }
} catch (err) {
  if (err instanceof ScenarioError) {
    console.error(`simulate: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
