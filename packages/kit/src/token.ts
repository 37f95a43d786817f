import { createHash, timingSafeEqual } from "node:crypto";

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
  return hmacUnder(serviceToken)
    .update(SESSION_SECRET_LABEL + sessionId)
    .digest("base64url");
}

/**
 * The HMAC keyed with the service token, keyed once: a copy per message skips keying (its two blocks). An
 * app has one service token; another token (a test's) takes the slot.
 */
let keyedHmac: { token: string; hmac: Bun.CryptoHasher } | undefined;
function hmacUnder(serviceToken: string): Bun.CryptoHasher {
  if (keyedHmac?.token !== serviceToken) {
    keyedHmac = { token: serviceToken, hmac: new Bun.CryptoHasher("sha256", serviceToken) };
  }
  return keyedHmac.hmac.copy();
}

/** Constant-time check of a presented session secret; never logs or echoes it. */
export function sessionSecretMatches(serviceToken: string, sessionId: string, presented: string): boolean {
  return timingSafeEqual(digest(sessionSecretFor(serviceToken, sessionId)), digest(presented));
}

const LEGACY_VEHICLE_LABEL = "evgrid legacy vehicle v1:";

/**
 * The vehicle a keyed request to the original `POST /request_charge` (which names none) stands for: one per
 * caller and key, so a retry with the key is the same request, and no one else can name (or squat) it.
 */
export function legacyVehicleFor(serviceToken: string, owner: string, key: string): string {
  const hex = hmacUnder(serviceToken).update(`${LEGACY_VEHICLE_LABEL}${owner}\0${key}`).digest("hex");
  return `legacy-${hex.slice(0, 32)}`;
}

const ID_TAG_LABEL = "evgrid booking idTag v1:";
/** RFC 4648 base32: upper case and digits 2-7, which every charger keypad and RFID backend takes. */
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** 20 characters (OCPP 1.6's CiString20) of 5 bits: 100 bits, beyond guessing at any rate a charger can try. */
export const ID_TAG_LENGTH = 20;

/**
 * The idTag / idToken that claims a booking at a charger: an HMAC of the session id under the service token,
 * in base32. Only the booking's owner is told it (with the session secret); every substation and charge-api
 * replica derives the same one, so nothing is stored beyond a substation's index of its active sessions.
 */
export function idTagFor(serviceToken: string, sessionId: string): string {
  const mac = hmacUnder(serviceToken)
    .update(ID_TAG_LABEL + sessionId)
    .digest();
  let tag = "";
  for (let i = 0; i < ID_TAG_LENGTH; i++) {
    const bit = i * 5;
    // Five bits starting at `bit`, read across a byte boundary where they straddle one.
    const pair = ((mac[bit >> 3] ?? 0) << 8) | (mac[(bit >> 3) + 1] ?? 0);
    tag += BASE32[(pair >> (11 - (bit & 7))) & 31];
  }
  return tag;
}
