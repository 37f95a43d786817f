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
 * The order power is handed out in: by `first` (lower first), then by `second`, then by the member's own
 * index. Keys in arrays, not a comparator: the selection compares members thousands of times a re-share,
 * and one comparison it can inline costs less than a call to whichever comparator the caller passed.
 */
export interface GiveOrder {
  first: Float64Array;
  second: Float64Array;
}

/**
 * The first `n` of `members` (indices, reordered in place) in `order`: calls `give(i, kw)` for each member
 * that gets power, with `min(wantKw[i], spare left)`, and returns the spare power left (0 or less when it ran
 * out). `wantKw[i]` must be 0 or more.
 */
export function giveInOrder(
  members: Int32Array,
  n: number,
  order: GiveOrder,
  wantKw: Float64Array,
  give: (i: number, kw: number) => void,
  spareKw: number,
): number {
  const { first, second } = order;
  const before = (a: number, b: number) =>
    (first[a] as number) - (first[b] as number) || (second[a] as number) - (second[b] as number) || a - b;
  let lo = 0;
  let hi = n;
  let pivots = 2 * Math.ceil(Math.log2(hi + 1)) + 4;
  while (lo < hi && spareKw > 0) {
    if (pivots-- === 0) {
      members.subarray(lo, hi).sort(before);
      return giveSorted(members, lo, hi, wantKw, give, spareKw);
    }
    let total = 0;
    for (let j = lo; j < hi; j++) total += wantKw[members[j] as number] as number;
    if (total <= spareKw) return giveSorted(members, lo, hi, wantKw, give, spareKw);
    const p = partition(members, lo, hi, before);
    let leftKw = 0;
    for (let j = lo; j < p; j++) leftKw += wantKw[members[j] as number] as number;
    if (leftKw >= spareKw) {
      hi = p; // the boundary is before the pivot
      continue;
    }
    spareKw = giveSorted(members, lo, p, wantKw, give, spareKw);
    const pivot = members[p] as number;
    const kw = Math.min(wantKw[pivot] as number, spareKw);
    if (kw > 0) give(pivot, kw);
    spareKw -= kw;
    lo = p + 1;
  }
  return spareKw;
}

/** members[lo, hi) each in turn (their order among themselves does not matter while power lasts for all but the last). */
function giveSorted(
  members: Int32Array,
  lo: number,
  hi: number,
  wantKw: Float64Array,
  give: (i: number, kw: number) => void,
  spareKw: number,
): number {
  for (let j = lo; j < hi; j++) {
    if (spareKw <= 0) break;
    const i = members[j] as number;
    const kw = Math.min(wantKw[i] as number, spareKw);
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
  members: Int32Array,
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

function swap(members: Int32Array, i: number, j: number): void {
  const t = members[i] as number;
  members[i] = members[j] as number;
  members[j] = t;
}
