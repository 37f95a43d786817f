import { reasons } from "@evgrid/contract";
import { type Caller, GridError } from "@evgrid/kit";

/** How long a refused watcher is told to wait before asking again. */
const WATCH_FULL_RETRY_S = 5;

export interface WatcherLimits {
  /** Session watchers one caller may hold open at once (operators: no limit of their own). */
  perCaller: number;
  /** Session watchers open at once in all. */
  total: number;
}

/**
 * The places for session watchers: the streams are long-lived, so they are bounded per caller and in all.
 * A place is taken before a stream opens and given back when it ends.
 */
export class WatcherSlots {
  private readonly byOwner = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: WatcherLimits) {}

  /** Watchers open now, in all. */
  get open(): number {
    return this.total;
  }

  /** Takes a place for this caller, or refuses (429 QUOTA_EXCEEDED); the answer gives the place back. */
  take(caller: Caller): () => void {
    const mine = this.byOwner.get(caller.owner) ?? 0;
    const overMine = !caller.operator && mine >= this.limits.perCaller;
    if (overMine || this.total >= this.limits.total) {
      throw new GridError(
        "TOO_MANY_REQUESTS",
        reasons.QUOTA_EXCEEDED,
        overMine
          ? `quota exceeded: at most ${this.limits.perCaller} sessions watched at once per caller`
          : `${this.total} sessions are watched here already; try again later`,
        {
          quota: "watchers",
          limit: overMine ? this.limits.perCaller : this.limits.total,
          retryAfterS: WATCH_FULL_RETRY_S,
        },
      );
    }
    this.byOwner.set(caller.owner, mine + 1);
    this.total += 1;
    let released = false;
    return () => {
      // Given back once, however often it is called.
      if (released) return;
      released = true;
      const left = (this.byOwner.get(caller.owner) ?? 1) - 1;
      if (left > 0) this.byOwner.set(caller.owner, left);
      else this.byOwner.delete(caller.owner);
      this.total -= 1;
    };
  }
}
