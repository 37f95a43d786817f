/** Floating-point slack so 10 × 4.2 kW fits exactly into 42 kW. */
export const KW_EPSILON = 1e-9;

export interface Capacity {
  capacityKw: number;
  /** Operator limit, if any. */
  limitKw: number | null;
}

export function effectiveCapacityKw({ capacityKw, limitKw }: Capacity): number {
  return limitKw === null ? capacityKw : Math.min(capacityKw, limitKw);
}

export type AdmissionDecision =
  | { admitted: true }
  | {
      admitted: false;
      /** Which constraint refused: the hardware, or the operator's lower limit. */
      reason: "INSUFFICIENT_CAPACITY" | "OPERATOR_LIMIT";
      /** The largest minimum that could still be admitted. */
      headroomKw: number;
    };

/**
 * All-or-nothing on the minimum: admit only if every admitted session can still get its minimum.
 * Callers must apply the decision in the same synchronous step (the substation does) to make it atomic.
 */
export function decideAdmission(site: Capacity, committedMinKw: number, minKw: number): AdmissionDecision {
  const needKw = committedMinKw + minKw;
  const effectiveKw = effectiveCapacityKw(site);
  if (needKw <= effectiveKw + KW_EPSILON) return { admitted: true };
  const headroomKw = Math.max(0, effectiveKw - committedMinKw);
  const reason = needKw <= site.capacityKw + KW_EPSILON ? "OPERATOR_LIMIT" : "INSUFFICIENT_CAPACITY";
  return { admitted: false, reason, headroomKw };
}
