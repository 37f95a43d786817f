import { reasons } from "@evgrid/contract";
import { GridError, MapFront } from "@evgrid/kit";
import { type RateLimit, type TokenBucket, takeToken } from "@evgrid/policy";

/**
 * Requests per second per caller (API key, or address in open mode), counted call by call, so a batch of
 * a thousand calls costs a thousand tokens. The table is bounded: past `maxCallers` callers the least
 * recently seen is forgotten (it starts again with a full bucket, never worse), in O(1): each new caller
 * of a flood of addresses would otherwise cost a scan of the whole table.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  /** The caller seen least recently (`buckets.keys().next()` grows dear at the bound: kit's MapFront). */
  private readonly oldest: MapFront<string>;

  constructor(
    private readonly limit: RateLimit,
    maxCallers = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    this.oldest = new MapFront(this.buckets, maxCallers);
  }

  take(owner: string): void {
    const nowMs = this.now();
    const decision = takeToken(this.buckets.get(owner), this.limit, nowMs);
    this.buckets.delete(owner);
    this.buckets.set(owner, decision.bucket);
    const oldest = this.oldest.over();
    if (oldest !== undefined) this.buckets.delete(oldest);
    if (!decision.allowed) {
      throw new GridError(
        "TOO_MANY_REQUESTS",
        reasons.QUOTA_EXCEEDED,
        `quota exceeded: at most ${this.limit.ratePerS} requests per second (bursts of ${this.limit.burst})`,
        {
          quota: "rate",
          limit: this.limit.ratePerS,
          retryAfterS: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
        },
      );
    }
  }
}
