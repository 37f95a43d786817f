import { reasons } from "@evgrid/contract";
import { GridError, InsertionOrder } from "@evgrid/kit";
import { type RateLimit, type TokenBucket, takeToken } from "@evgrid/policy";

/**
 * Requests per second per caller (API key, or address in open mode), counted call by call, so a batch of
 * a thousand calls costs a thousand tokens. The table is bounded: past `maxCallers` callers the least
 * recently seen is forgotten (it starts again with a full bucket, never worse), in O(1): each new caller
 * of a flood of addresses would otherwise cost a scan of the whole table.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Callers, least recently seen first (kit's InsertionOrder; each stamped with its bucket). */
  private readonly order = new InsertionOrder<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxCallers = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  take(owner: string): void {
    const nowMs = this.now();
    const decision = takeToken(this.buckets.get(owner), this.limit, nowMs);
    this.buckets.delete(owner);
    this.buckets.set(owner, decision.bucket);
    this.order.add(owner, decision.bucket);
    this.order.trim(this.buckets.size, () => this.buckets);
    while (this.buckets.size > this.maxCallers) {
      const oldest = this.order.oldest((o, bucket) => this.buckets.get(o) === bucket);
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
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
