/**
 * What one simulated vehicle came to under one policy, and the offline optimum's answer: the shapes the
 * engine, the optimum and the report agree on (the per-session CSV is one `SessionRecord` per line).
 */

/** How a vehicle's visit ended. */
export type SessionOutcome =
  /** Admitted (at once or after a wait) and charged, whatever it got. */
  | "charged"
  /** Never admitted: refused and did not wait, or waited past `maxWaitMin` or its departure. */
  | "refused"
  /** Every EVSE of its station was busy and the scenario says such a car leaves. */
  | "no-evse";

export interface SessionRecord {
  /** The simulator's own number for the car (its place in the day's arrivals). */
  id: number;
  /** The input's `sessionID` (a sessions CSV's), null for generated arrivals or an empty cell. */
  sessionId: string | null;
  /** The substation it was sent to; null if it never was (no EVSE free, or refused by every site). */
  siteId: string | null;
  /** The CSV's `stationID` when there is one. */
  stationId: string | null;
  arriveMin: number;
  departMin: number;
  askedKwh: number;
  deliveredKwh: number;
  /** From its arrival (or from its curtailment, for a car cut and waiting again) to its admission. */
  waitedMin: number;
  outcome: SessionOutcome;
}

/** The most energy any policy could have delivered with perfect foresight (a linear program). */
export interface OptimumResult {
  deliveredKwh: number;
  /** Solver status as the solver names it ("Optimal" when it is). */
  status: string;
  /** Time steps and variables of the program, to say what size was solved. */
  stepMin: number;
  variables: number;
  /** Rows of the program: one per car, one per site (or pooled sites) and step. */
  constraints: number;
  /** "pooled": every car may draw from every site (the relaxation); "fixed": each car on a given site. */
  sites: "pooled" | "fixed";
  /**
   * "highs": the solver's answer; "bound": a greedy schedule reached the bound Σ min(asked, maxKw × parked),
   * which no schedule can exceed, so the solver was not needed.
   */
  provedBy: "highs" | "bound";
  /** Building and solving the program. */
  solveMs: number;
}
