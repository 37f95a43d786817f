import { createHash, createHmac, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** The digests of the few secrets an app compares against (its service token, metrics token), made once. */
const knownDigests = new Map<string, Buffer>();
function digestOfSecret(secret: string): Buffer {
  let d = knownDigests.get(secret);
  if (!d) {
    d = digest(secret);
    if (knownDigests.size < 64) knownDigests.set(secret, d);
  }
  return d;
}

/**
 * Does `authorization` carry the expected bearer token? Compared in constant time: both sides are hashed to
 * the same length first, so neither the token's length nor its prefix leaks through timing. A request with
 * no bearer token at all is told so at once: that much is no secret.
 */
export function tokenMatches(expected: string | null, authorization: string | null): boolean {
  if (expected === null || !authorization?.startsWith("Bearer ")) return false;
  return timingSafeEqual(digest(authorization.slice("Bearer ".length)), digestOfSecret(expected));
}

/** The owner id of an API key: `key:<16 hex of its SHA-256>`. */
export const apiKeyOwner = (key: string) =>
  `key:${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;

/**
 * The public API's keys (API_KEYS). Each is known by an id derived from it, `key:<16 hex of its SHA-256>`:
 * the id owns the sessions started with the key and names its quotas, so the key itself is never stored,
 * logged or sent further.
 */
export class ApiKeys {
  private readonly entries: { digest: Buffer; owner: string }[];

  constructor(keys: readonly string[]) {
    this.entries = keys.map((key) => ({ digest: digest(key), owner: apiKeyOwner(key) }));
  }

  /** Open mode: no keys configured, anyone may call. */
  get open(): boolean {
    return this.entries.length === 0;
  }

  /** The owner id of the key the request carries (bearer or X-API-Key), or null. Every key is compared. */
  ownerOf(headers: Headers): string | null {
    const auth = headers.get("authorization");
    const presented = digest(
      headers.get("x-api-key") ?? (auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : ""),
    );
    let owner: string | null = null;
    for (const e of this.entries) if (timingSafeEqual(e.digest, presented)) owner = e.owner;
    return owner;
  }
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
