/**
 * Hands out spare power in an order: each member, first to last, gets what it wants while power is left; the
 * one where it runs out gets the rest; those after it nothing. Only that boundary depends on the order, so
 * the members are not sorted: a selection (quickselect, weighted by what each wants) finds the boundary in
 * O(k) expected for k members, where a sort or a heap drained to the boundary costs O(k log k). A busy site
 * lifts hundreds of its sessions at every re-share, so this was most of a re-share's cost (a 100,000-session
 * CSV replay with 450 cars a site: 22 s, now 11 s; BENCHMARKS.md). After a few bad pivots (inputs a caller
 * chose to defeat them: departures are the public API's) the range left is sorted, so the worst case stays
 * O(k log k).
 */

/**
 * `members` (indices, reordered in place) in `before` order, a strict total order (break ties by index):
 * calls `give(i, kw)` for each member that gets power, with `min(want(i), spare left)`, and returns the spare
 * power left (0 or less when it ran out). `want(i)` must be 0 or more.
 */
export function giveInOrder(
  members: number[],
  before: (a: number, b: number) => number,
  want: (i: number) => number,
  give: (i: number, kw: number) => void,
  spareKw: number,
): number {
  let lo = 0;
  let hi = members.length;
  let pivots = 2 * Math.ceil(Math.log2(hi + 1)) + 4;
  while (lo < hi && spareKw > 0) {
    if (pivots-- === 0) return giveSorted(members.slice(lo, hi).sort(before), want, give, spareKw);
    let total = 0;
    for (let j = lo; j < hi; j++) total += want(members[j] as number);
    if (total <= spareKw) return giveSorted(members.slice(lo, hi), want, give, spareKw);
    const p = partition(members, lo, hi, before);
    let leftKw = 0;
    for (let j = lo; j < p; j++) leftKw += want(members[j] as number);
    if (leftKw >= spareKw) {
      hi = p; // the boundary is before the pivot
      continue;
    }
    spareKw = giveSorted(members.slice(lo, p), want, give, spareKw);
    const pivot = members[p] as number;
    const kw = Math.min(want(pivot), spareKw);
    if (kw > 0) give(pivot, kw);
    spareKw -= kw;
    lo = p + 1;
  }
  return spareKw;
}

/** Each in turn (their order among themselves does not matter while power lasts for all but the last). */
function giveSorted(
  members: readonly number[],
  want: (i: number) => number,
  give: (i: number, kw: number) => void,
  spareKw: number,
): number {
  for (const i of members) {
    if (spareKw <= 0) break;
    const kw = Math.min(want(i), spareKw);
    if (kw > 0) give(i, kw);
    spareKw -= kw;
  }
  return spareKw;
}

/**
 * Lomuto partition of members[lo, hi) around the median of its first, middle and last: returns the pivot's
 * place, every member before it `before` it.
 */
function partition(
  members: number[],
  lo: number,
  hi: number,
  before: (a: number, b: number) => number,
): number {
  const mid = lo + ((hi - lo) >> 1);
  const last = hi - 1;
  const a = members[lo] as number;
  const b = members[mid] as number;
  const c = members[last] as number;
  const median =
    before(a, b) < 0
      ? before(b, c) < 0
        ? mid
        : before(a, c) < 0
          ? last
          : lo
      : before(a, c) < 0
        ? lo
        : before(b, c) < 0
          ? last
          : mid;
  swap(members, median, last);
  const pivot = members[last] as number;
  let store = lo;
  for (let j = lo; j < last; j++) {
    if (before(members[j] as number, pivot) < 0) swap(members, j, store++);
  }
  swap(members, store, last);
  return store;
}

function swap(members: number[], i: number, j: number): void {
  const t = members[i] as number;
  members[i] = members[j] as number;
  members[j] = t;
}
