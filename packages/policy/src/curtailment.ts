import { KW_EPSILON } from "./admission.ts";

/**
 * After the operator lowers a site's limit below what admission promised: how many sessions must end, the
 * newest first, so that the minimums left fit the capacity in force. The promise made to the oldest
 * sessions is kept; the fewest sessions are shed. `minimumsNewestFirst` lists each active session's minKw,
 * newest first.
 */
export function curtailNewestFirst(
  minimumsNewestFirst: readonly number[],
  committedMinKw: number,
  effectiveCapacityKw: number,
): number {
  let committed = committedMinKw;
  let shed = 0;
  for (const minKw of minimumsNewestFirst) {
    if (committed <= effectiveCapacityKw + KW_EPSILON) break;
    committed -= minKw;
    shed += 1;
  }
  return shed;
}
