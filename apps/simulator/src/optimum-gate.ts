/**
 * Whether the report gets the offline optimum, or a sentence saying why not: a linear program over every car
 * and time step grows with the day, so past `--optimum-max-sessions` it is not attempted (settable: 0 skips
 * it), and a solver that fails costs the column, not the report.
 */
import type { Arrival } from "./arrivals.ts";
import type { OptimumResult } from "./records.ts";
import type { OptimumInput } from "./report.ts";
import type { Scenario } from "./scenario.ts";

/** Above this many sessions the program is not built (issue 22: 10,000 sessions should solve within a minute). */
export const DEFAULT_OPTIMUM_MAX_SESSIONS = 20_000;

export type OptimumSolver = (scenario: Scenario, arrivals: readonly Arrival[]) => Promise<OptimumResult>;

export async function optimumOrReason(
  scenario: Scenario,
  arrivals: readonly Arrival[],
  maxSessions: number,
  solve: OptimumSolver,
): Promise<OptimumInput> {
  if (maxSessions === 0) return { reason: "skipped: --optimum-max-sessions 0" };
  if (arrivals.length > maxSessions)
    return {
      reason: `${arrivals.length} sessions, more than --optimum-max-sessions ${maxSessions}`,
    };
  try {
    return await solve(scenario, arrivals);
  } catch (err) {
    return { reason: `the solver failed: ${(err as Error).message}` };
  }
}
