import { createHash, createHmac, timingSafeEqual } from "node:crypto";

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

/** Does the request carry one of `keys` (as a bearer token or in X-API-Key)? Every key is compared. */
export function apiKeyMatches(keys: readonly string[], headers: Headers): boolean {
  const auth = headers.get("authorization");
  const presented =
    headers.get("x-api-key") ?? (auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : "");
  let ok = false;
  for (const key of keys) ok = tokenMatches(key, `Bearer ${presented}`) || ok;
  return ok;
}

/** The header an internal client sends. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const SESSION_SECRET_LABEL = "evgrid session secret v1:";

/**
 * The secret that proves a caller started a session (open mode): an HMAC of the session id under the grid's
 * service token. Every charge-api replica can check it without storing anything, and a retry with the same
 * idempotency key gets the same secret back. Rotating the service token invalidates the secrets in use.
 */
export function sessionSecretFor(serviceToken: string, sessionId: string): string {
  return createHmac("sha256", serviceToken)
    .update(SESSION_SECRET_LABEL + sessionId)
    .digest("base64url");
}

/** Constant-time check of a presented session secret; never logs or echoes it. */
export function sessionSecretMatches(serviceToken: string, sessionId: string, presented: string): boolean {
  return timingSafeEqual(digest(sessionSecretFor(serviceToken, sessionId)), digest(presented));
}
