import { KW_EPSILON } from "./admission.ts";

/** A token bucket: `ratePerS` calls a second on average, with bursts of up to `burst`. */
export interface RateLimit {
  ratePerS: number;
  burst: number;
}

export interface TokenBucket {
  tokens: number;
  atMs: number;
}

export interface TokenDecision {
  bucket: TokenBucket;
  allowed: boolean;
  /** When refused: how long until a token is there. */
  retryAfterMs: number;
}

/** Takes one token if there is one. A caller never seen before starts with a full bucket. */
export function takeToken(bucket: TokenBucket | undefined, limit: RateLimit, nowMs: number): TokenDecision {
  const refilled = bucket
    ? Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.atMs) * limit.ratePerS) / 1000)
    : limit.burst;
  if (refilled >= 1) return { bucket: { tokens: refilled - 1, atMs: nowMs }, allowed: true, retryAfterMs: 0 };
  return {
    bucket: { tokens: refilled, atMs: nowMs },
    allowed: false,
    retryAfterMs: ((1 - refilled) * 1000) / limit.ratePerS,
  };
}

/** What one caller holds across the grid. */
export interface OwnerUsage {
  activeSessions: number;
  /** Sum of the minimums of its active sessions: what admission has promised it. */
  committedMinKw: number;
}

export interface SessionQuota {
  /** Active sessions one caller may hold. */
  maxActiveSessions: number;
  /** Share (0..1] of the grid's capacity in force that one caller's minimums may take. */
  maxGridShare: number;
}

export type QuotaDecision =
  | { ok: true }
  | { ok: false; quota: "active_sessions"; limit: number }
  | { ok: false; quota: "grid_share"; limit: number; limitKw: number };

/**
 * May this caller start one more session of `minKw`? Counted in sessions (so tiny sessions cannot flood a
 * site) and in promised power (so three 150 kW requests for 24 h cannot take a whole grid). With no capacity
 * known (every substation down), or a share of the whole grid, the share is not checked: the dispatch says
 * what is wrong (a full grid is GRID_FULL, not a quota).
 */
export function checkSessionQuota(
  usage: OwnerUsage,
  minKw: number,
  quota: SessionQuota,
  gridCapacityKw: number,
): QuotaDecision {
  if (usage.activeSessions + 1 > quota.maxActiveSessions) {
    return { ok: false, quota: "active_sessions", limit: quota.maxActiveSessions };
  }
  const limitKw = quota.maxGridShare * gridCapacityKw;
  if (quota.maxGridShare < 1 && gridCapacityKw > 0 && usage.committedMinKw + minKw > limitKw + KW_EPSILON) {
    return { ok: false, quota: "grid_share", limit: quota.maxGridShare, limitKw };
  }
  return { ok: true };
}

/**
 * A minimum above every site's physical capacity can never be admitted, however long it waits (an operator
 * limit, by contrast, may be lifted). Undefined capacities (no substation heard from yet) decide nothing.
 */
export function exceedsEverySite(capacitiesKw: readonly number[], minKw: number): boolean {
  return capacitiesKw.length > 0 && capacitiesKw.every((c) => minKw > c + KW_EPSILON);
}
