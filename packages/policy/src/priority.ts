/**
 * Priority classes: what a request may carry (`standard` by default; an API key may allow more). A class is
 * a weight in water-filling (shares above the minimums grow in proportion to it) and an order in the wait
 * queue (a higher class first, then first come, first served).
 */
export const PRIORITY_CLASSES = ["standard", "fleet", "emergency"] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** The weight of each class in water-filling. */
export const PRIORITY_WEIGHT: Readonly<Record<PriorityClass, number>> = {
  standard: 1,
  fleet: 2,
  emergency: 4,
};

/** Higher is served first. */
export const priorityRank = (c: PriorityClass | undefined): number =>
  PRIORITY_CLASSES.indexOf(c ?? "standard");

/** Whether a caller allowed up to `allowed` may ask for `asked`. */
export const mayRequest = (asked: PriorityClass | undefined, allowed: PriorityClass): boolean =>
  priorityRank(asked) <= priorityRank(allowed);

/**
 * The order waiters are offered freed power in: higher class first, then arrival (`seq`, lower first). The
 * balancer's wait queue and the simulator both use it.
 */
export function byClassThenArrival<T extends { priority?: PriorityClass | undefined; seq: number }>(
  a: T,
  b: T,
): number {
  return priorityRank(b.priority) - priorityRank(a.priority) || a.seq - b.seq;
}
