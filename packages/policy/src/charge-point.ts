import { shareFairly } from "./water-filling.ts";

/** One open transaction at a charge point: what it needs at least and may take at most. */
export interface ConnectorDemand {
  minKw: number;
  maxKw: number;
}

/**
 * A charge point's maximum split across its open transactions, so that their allocations together never
 * exceed it whatever the substation gives each: max-min fair caps (water-filling of `chargePointMaxKw` over
 * each one's [minKw, maxKw]), rounded down to the watt. null when the minimums alone do not fit: such a set
 * must not be admitted.
 */
export function chargePointCaps(
  chargePointMaxKw: number,
  demands: readonly ConnectorDemand[],
): number[] | null {
  if (!fitsChargePoint(chargePointMaxKw, demands)) return null;
  const bounded = demands.map((d) => ({ minKw: d.minKw, maxKw: Math.min(d.maxKw, chargePointMaxKw) }));
  return shareFairly(bounded, chargePointMaxKw).map((kw, i) =>
    // Down to the watt (never below the minimum, which fits): a sum of rounded-up shares could pass the max.
    Math.max(bounded[i]?.minKw ?? 0, Math.floor(kw * 1000 + 1e-6) / 1000),
  );
}

/** Whether these transactions' minimums fit within the charge point's maximum. */
export function fitsChargePoint(chargePointMaxKw: number, demands: readonly ConnectorDemand[]): boolean {
  let sumMinKw = 0;
  for (const d of demands) sumMinKw += d.minKw;
  return sumMinKw <= chargePointMaxKw + 1e-9;
}
