import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Does `authorization` carry the expected bearer token? Compared in constant time: both sides are hashed to
 * the same length first, so neither the token's length nor its prefix leaks through timing.
 */
export function tokenMatches(expected: string | null, authorization: string | null): boolean {
  if (expected === null) return false;
  const presented = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : "";
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The header an internal client sends. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
