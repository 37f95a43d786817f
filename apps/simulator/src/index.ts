/** The simulator as a library: what `bun run simulate` does, for tests and the bench. */
export { type Arrival, generateArrivals, readSessionsCsv } from "./arrivals.ts";
export {
  POLICIES,
  type Policy,
  type PolicyId,
  type PolicyResult,
  policyById,
  type SimulateOptions,
  simulate,
} from "./engine.ts";
export { POLICY_IDS } from "./policies.ts";
export type { OptimumResult, SessionOutcome, SessionRecord } from "./records.ts";
export { buildReport, renderHtml } from "./report.ts";
export { loadScenario, parseScenario, type Scenario, ScenarioError } from "./scenario.ts";

import { generateArrivals, readSessionsCsv } from "./arrivals.ts";
import { POLICIES, type PolicyResult, simulate } from "./engine.ts";
import type { Scenario } from "./scenario.ts";

/** Every policy on the scenario's arrivals (its process, or its CSV read relative to `dir`). */
export function runAll(scenario: Scenario, dir = "."): PolicyResult[] {
  const arrivals = scenario.sessionsCsv ? readSessionsCsv(scenario, dir) : generateArrivals(scenario);
  return POLICIES.map((p) => simulate(scenario, arrivals, p));
}
