/** The clocks' grain, in seconds: a laxity within it of a boundary is at the boundary. */
export const GRAIN_S = 1e-3;

/**
 * A laxity at the guard, to a millisecond (the clocks' grain): with a guard under CROSSING_LEAD_S the
 * re-share is timed for when a session's slack falls to the guard, finds it a rounding error above it (or a
 * timer fires a millisecond early), and must count it as out of slack.
 */
export const outOfSlack = (laxityS: number, guardS: number): boolean => laxityS <= guardS + GRAIN_S;

/**
 * How long before its slack runs out a session with slack is re-shared (seconds, or the guard if that is
 * less): then its laxity is this much, not a rounding error from 0 where it would count as unable to make
 * its departure, and a timer a little late (a busy event loop) still finds it able to.
 */
export const CROSSING_LEAD_S = 0.25;

/**
 * Where a deadline session with energy left stands by its laxity: 0 out of slack (at or below the guard), 1
 * unable to make its departure (beyond the grain below 0), 2 with slack to spare (deadline.ts `standing`).
 */
export const rankOf = (laxityS: number, guardS: number): 0 | 1 | 2 =>
  laxityS < -GRAIN_S ? 1 : outOfSlack(laxityS, guardS) ? 0 : 2;
