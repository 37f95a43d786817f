import { reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { bucketIsFull, type RateLimit, type TokenBucket, takeToken } from "@evgrid/policy";

/**
 * Requests per second per caller (API key, or address in open mode), counted call by call, so a batch of
 * a thousand calls costs a thousand tokens. Idle callers are forgotten; the table is bounded, and past
 * `maxCallers` active ones the oldest is dropped (it starts again with a full bucket, never worse).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

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
    if (this.buckets.size > this.maxCallers) this.forget(nowMs);
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

  private forget(nowMs: number): void {
    for (const [owner, bucket] of this.buckets) {
      if (bucketIsFull(bucket, this.limit, nowMs)) this.buckets.delete(owner);
    }
    // Still over: the least recently seen go first.
    for (const owner of this.buckets.keys()) {
      if (this.buckets.size <= this.maxCallers) break;
      this.buckets.delete(owner);
    }
  }
}
