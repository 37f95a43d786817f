import { KW_EPSILON } from "./admission.ts";

/** What the dispatcher believes about one substation: last known load plus its own unanswered assignments. */
export interface CandidateView {
  id: string;
  /** Physical capacity: tells a full site from one held down by the operator's limit. */
  capacityKw: number;
  effectiveCapacityKw: number;
  committedMinKw: number;
  demandKw: number;
  /** Assignments sent but not yet reflected in the load above. */
  inflightMinKw: number;
  inflightMaxKw: number;
}

export interface RankedCandidate {
  id: string;
  /** Demand over capacity if the request went there: lower means the vehicle gets more power. */
  projectedUtilization: number;
}

export interface FullCandidate {
  id: string;
  /** The binding constraint: the hardware, or the operator's lower limit. */
  reason: "INSUFFICIENT_CAPACITY" | "OPERATOR_LIMIT";
}

export interface Ranking {
  /** Candidates that can admit the request by what we know, best first. */
  feasible: RankedCandidate[];
  /** Candidates whose known minimums (with in-flight ones) leave no room, and why. */
  full: FullCandidate[];
}

/**
 * Prefer the substation where the new vehicle would get the most power: the lowest projected ratio of demand
 * to effective capacity, so big sites take proportionally more. Counting our own in-flight assignments keeps
 * a burst from piling onto the one site that looked emptiest in a stale view. Ties are broken by `random`
 * so that several balancer replicas with the same view do not herd onto the same site.
 */
export function rankSubstations(
  candidates: readonly CandidateView[],
  request: { minKw: number; maxKw: number },
  random: () => number = Math.random,
): Ranking {
  const feasible: (RankedCandidate & { tieBreak: number })[] = [];
  const full: FullCandidate[] = [];
  for (const c of candidates) {
    const capacity = c.effectiveCapacityKw;
    const minsKw = c.committedMinKw + c.inflightMinKw + request.minKw;
    if (capacity <= 0 || minsKw > capacity + KW_EPSILON) {
      const reason = minsKw <= c.capacityKw + KW_EPSILON ? "OPERATOR_LIMIT" : "INSUFFICIENT_CAPACITY";
      full.push({ id: c.id, reason });
      continue;
    }
    const projectedUtilization = (c.demandKw + c.inflightMaxKw + request.maxKw) / capacity;
    feasible.push({ id: c.id, projectedUtilization, tieBreak: random() });
  }
  feasible.sort((a, b) => a.projectedUtilization - b.projectedUtilization || a.tieBreak - b.tieBreak);
  return { feasible: feasible.map(({ id, projectedUtilization }) => ({ id, projectedUtilization })), full };
}
