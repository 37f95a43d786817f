/**
 * The operator's limits, read once for everyone: a limit holds from `from` to `to` (minutes of the day, 0 to
 * 24 × 60) every day the run covers, and one whose `to` is before its `from` crosses midnight (22:00 to 06:00:
 * the night, 22:00-24:00 and 00:00-06:00). The scenario parser, the engine's timeline and the offline optimum
 * all read limits through here, so a `Scenario` built by hand for `simulate` is read as a parsed one.
 */

export const DAY_MIN = 24 * 60;

/** A limit as a `Scenario` holds it. */
export interface OperatorLimit {
  from: number;
  to: number;
  share: number;
  /** The sites it applies to; all when absent. */
  substations?: readonly string[] | undefined;
}

/**
 * A limit as its parts within the day, each with from < to: itself, or, across midnight, to 24:00 and from
 * 00:00 (an empty part dropped). A time outside the day, `to` equal to `from` (all day is 0 to 24 × 60), or a
 * share outside 0 to 1 is refused: the parser names the field before this, so only a hand-built scenario can
 * get here with one (a negative share made the optimum "Infeasible", NaN its solver fail).
 */
export function withinTheDay<L extends OperatorLimit>(l: L): L[] {
  const inDay = (m: number) => Number.isFinite(m) && m >= 0 && m <= DAY_MIN;
  if (!inDay(l.from) || !inDay(l.to) || l.from === l.to)
    throw new RangeError(
      `an operator limit from ${l.from} to ${l.to} (minutes of the day): each must be in [0, ${DAY_MIN}], ` +
        `and to must differ from from (all day is 0 to ${DAY_MIN}; to before from crosses midnight)`,
    );
  if (!(l.share >= 0 && l.share <= 1))
    throw new RangeError(
      `an operator limit's share must be from 0 to 1 (of each site's capacity): ${l.share}`,
    );
  if (l.from < l.to) return [l];
  return [
    { ...l, to: DAY_MIN },
    { ...l, from: 0 },
  ].filter((part) => part.from < part.to);
}

/** One change of the share in force at a site within a day: from minute `at` on, `share` (null: no limit). */
export interface ShareStep {
  at: number;
  share: number | null;
}

/**
 * The share of a site's capacity in force over a day, as the minutes it changes at (the first at 00:00),
 * each with the lowest share of the limits in force from then (limits may touch or nest). The engine turns
 * them into events every day the run covers; the offline optimum into its minute-by-minute supply.
 */
export function shareSteps(limits: readonly OperatorLimit[], siteId: string): ShareStep[] {
  const parts = limits.filter((l) => l.substations?.includes(siteId) ?? true).flatMap((l) => withinTheDay(l));
  const minutes = [...new Set([0, ...parts.flatMap((l) => [l.from, l.to % DAY_MIN])])].sort((x, y) => x - y);
  return minutes.map((at) => ({
    at,
    share: parts.reduce<number | null>(
      (low, l) => (l.from <= at && at < l.to && (low === null || l.share < low) ? l.share : low),
      null,
    ),
  }));
}
