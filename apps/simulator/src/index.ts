/** The simulator as a library: what `bun run simulate` does, for tests and the bench. */
export { type Arrival, generateArrivals } from "./arrivals.ts";
export {
  POLICIES,
  type Policy,
  type PolicyId,
  type PolicyResult,
  policyById,
  type SimulateOptions,
  simulate,
} from "./engine.ts";
export { renderHtml } from "./html.ts";
export { type OptimumOptions, offlineOptimum, placementOf } from "./optimum.ts";
export type { OptimumResult, SessionOutcome, SessionRecord } from "./records.ts";
export { SESSIONS_CSV_HEADER, SessionsCsvWriter, sessionCsvRow } from "./records-csv.ts";
export { buildReport, type OptimumInput, reportJson, type SimulationReport, verdictLine } from "./report.ts";
export { loadScenario, parseScenario, type Scenario, ScenarioError } from "./scenario.ts";
export { readSessionsCsv } from "./sessions-csv.ts";
export { parseSweep, runSweep, type SweepResult } from "./sweep.ts";

import type { Arrival } from "./arrivals.ts";
import { POLICIES, type PolicyResult, simulate } from "./engine.ts";
import { type OptimumOptions, offlineOptimum } from "./optimum.ts";
import type { OptimumResult } from "./records.ts";
import type { Scenario } from "./scenario.ts";
import { scenarioArrivals } from "./sessions-csv.ts";

const simulateAll = (scenario: Scenario, arrivals: readonly Arrival[]) =>
  POLICIES.map((p) => simulate(scenario, arrivals, p));

/** Every policy on the scenario's arrivals (its process, or its CSV read relative to `dir`). */
export function runAll(scenario: Scenario, dir = "."): PolicyResult[] {
  return simulateAll(scenario, scenarioArrivals(scenario, dir));
}

/**
 * `runAll` and the offline optimum on the same arrivals (asynchronous: the solver's WebAssembly loads so), for
 * callers that report each policy's energy as a share of the optimum.
 */
export async function runAllWithOptimum(
  scenario: Scenario,
  dir = ".",
  opts: OptimumOptions = {},
): Promise<{ results: PolicyResult[]; optimum: OptimumResult }> {
  const arrivals = scenarioArrivals(scenario, dir);
  return {
    results: simulateAll(scenario, arrivals),
    optimum: await offlineOptimum(scenario, arrivals, opts),
  };
}
