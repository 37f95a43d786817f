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
    const projectedUtilization = projectedUtilizationAt(c, request);
    if (projectedUtilization === null) full.push({ id: c.id, reason: fullReason(c, request) });
    else feasible.push({ id: c.id, projectedUtilization, tieBreak: random() });
  }
  feasible.sort((a, b) => a.projectedUtilization - b.projectedUtilization || a.tieBreak - b.tieBreak);
  return { feasible: feasible.map(({ id, projectedUtilization }) => ({ id, projectedUtilization })), full };
}

/**
 * Demand over capacity at `c` if the request went there, or null if its known minimums (with in-flight ones)
 * leave no room for it.
 */
export function projectedUtilizationAt(
  c: CandidateView,
  request: { minKw: number; maxKw: number },
): number | null {
  const capacity = c.effectiveCapacityKw;
  const minsKw = c.committedMinKw + c.inflightMinKw + request.minKw;
  if (capacity <= 0 || minsKw > capacity + KW_EPSILON) return null;
  return (c.demandKw + c.inflightMaxKw + request.maxKw) / capacity;
}

/** Why a candidate with no room has none: the hardware, or the operator's lower limit. */
export function fullReason(c: CandidateView, request: { minKw: number }): FullCandidate["reason"] {
  const minsKw = c.committedMinKw + c.inflightMinKw + request.minKw;
  return minsKw <= c.capacityKw + KW_EPSILON ? "OPERATOR_LIMIT" : "INSUFFICIENT_CAPACITY";
}

/**
 * The first choice of `rankSubstations`, in one pass and without sorting: what a dispatch needs, at a cost
 * that grows only linearly (and cheaply) with the number of substations. `view` gives each item's candidate
 * view, or null to leave it out. Ties are broken uniformly at random, as the ranking's are.
 */
export function bestCandidate<T>(
  items: readonly T[],
  view: (item: T) => CandidateView | null,
  request: { minKw: number; maxKw: number },
  random: () => number = Math.random,
): T | undefined {
  let best: T | undefined;
  let bestUtilization = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (const item of items) {
    const c = view(item);
    if (c === null) continue;
    const utilization = projectedUtilizationAt(c, request);
    if (utilization === null || utilization > bestUtilization) continue;
    if (utilization < bestUtilization) {
      best = item;
      bestUtilization = utilization;
      ties = 1;
    } else {
      // One more of equal merit: it replaces the pick with probability 1/ties, so each is equally likely.
      ties += 1;
      if (random() * ties < 1) best = item;
    }
  }
  return best;
}
