/**
 * Input checked once where it enters the grid, and cheaply on each internal hop after that. A dispatch
 * request travels charge-api → balancer → substation as dispatchRequestSchema's own output: checked,
 * defaults filled, the departure as a canonical ISO time. On an internal hop, `asCheckedDispatchRequest`
 * recognises exactly such a value in one pass over its fields and takes it as it is; anything else (a field
 * out of range, a default not filled, an unknown key, a departure gone by) goes to the full schema, which
 * refuses it with its field or normalizes it. So the answer is always the schema's: a value accepted here is
 * one the schema accepts and returns unchanged (test/internal-hop.test.ts holds it to that, seeded).
 */
import {
  type DispatchRequest,
  ID_PATTERN,
  MAX_DEPART_IN_S,
  MAX_DURATION_S,
  MAX_ENERGY_KWH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_OWNER_LENGTH,
  MAX_SESSION_KW,
  MAX_VEHICLE_ID_LENGTH,
  MAX_WAIT_S,
  MIN_SESSION_KW,
  OWNER_PATTERN,
  SESSION_ID_PATTERN,
  SUBSTATION_ID_PATTERN,
} from "./charge.ts";

/** What `Date.prototype.toISOString` writes for years 0000-9999: the only departure form normalize makes. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const isKw = (x: unknown): x is number => typeof x === "number" && x >= MIN_SESSION_KW && x <= MAX_SESSION_KW;
/** Above 0 and at most `max` (NaN and infinities fail both comparisons or the second). */
const isPositiveUpTo = (x: unknown, max: number): x is number => typeof x === "number" && x > 0 && x <= max;
const isId = (x: unknown, max: number): x is string =>
  typeof x === "string" && x.length >= 1 && x.length <= max && ID_PATTERN.test(x);

/**
 * The optional fields of a checked request that stand alone, each with its check. A Map: a key is the
 * caller's text, and "__proto__" or "constructor" must find nothing.
 */
const OPTIONAL = new Map<string, (x: unknown) => boolean>([
  ["idempotencyKey", (x) => isId(x, MAX_IDEMPOTENCY_KEY_LENGTH)],
  ["waitS", (x) => isPositiveUpTo(x, MAX_WAIT_S)],
  // normalize drops `standard`: a request that still says it was not normalized.
  ["priority", (x) => x === "fleet" || x === "emergency"],
  ["substationId", (x) => typeof x === "string" && SUBSTATION_ID_PATTERN.test(x)],
  ["capKw", isKw],
  ["movedFrom", (x) => typeof x === "string" && SESSION_ID_PATTERN.test(x)],
  ["newKey", (x) => x === true],
]);
/** The other keys it may have: checked together below. */
const OTHER_KEYS = new Set([
  "vehicleId",
  "maxKw",
  "minKw",
  "owner",
  "durationS",
  "energyKwh",
  "departAt",
  "strict",
]);

/**
 * `input` as a checked dispatch request if it is one already (dispatchRequestSchema would return it
 * unchanged); undefined if the full schema must look at it. O(fields).
 */
export function asCheckedDispatchRequest(input: unknown, nowMs = Date.now()): DispatchRequest | undefined {
  if (typeof input !== "object" || input === null || Object.getPrototypeOf(input) !== Object.prototype) {
    return undefined;
  }
  const r = input as Record<string, unknown>;
  // An unknown key is refused by the schema; a known one set to undefined fails its own check.
  for (const key in r) {
    const check = OPTIONAL.get(key);
    if (check ? !check(r[key]) : !OTHER_KEYS.has(key)) return undefined;
  }
  if (!isId(r.vehicleId, MAX_VEHICLE_ID_LENGTH) || !isKw(r.maxKw) || !isKw(r.minKw) || r.minKw > r.maxKw)
    return undefined;
  if (typeof r.owner !== "string" || r.owner.length > MAX_OWNER_LENGTH || !OWNER_PATTERN.test(r.owner))
    return undefined;
  return endIsChecked(r, nowMs) ? (r as DispatchRequest) : undefined;
}

/**
 * How it ends, as normalize writes it: after `durationS`, or at `energyKwh` (maybe by `departAt`, a
 * canonical time between now and a week from now, maybe `strict`), never both.
 */
function endIsChecked(r: Record<string, unknown>, nowMs: number): boolean {
  if (!("energyKwh" in r)) {
    return isPositiveUpTo(r.durationS, MAX_DURATION_S) && !("departAt" in r) && !("strict" in r);
  }
  if ("durationS" in r || !isPositiveUpTo(r.energyKwh, MAX_ENERGY_KWH)) return false;
  // normalize keeps `strict` only as true, and only with a departure.
  if ("strict" in r && (r.strict !== true || !("departAt" in r))) return false;
  if (!("departAt" in r)) return true;
  const at = r.departAt;
  if (typeof at !== "string" || !CANONICAL_ISO.test(at)) return false;
  const atMs = Date.parse(at);
  if (!(atMs > nowMs && atMs - nowMs <= MAX_DEPART_IN_S * 1000)) return false;
  // Canonical in fact: the time it names, written back, is the same text (no 24:00 or February 30th).
  return new Date(atMs).toISOString() === at;
}
