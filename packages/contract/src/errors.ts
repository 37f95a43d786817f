import { z } from "zod";

/**
 * Stable, machine-readable reasons carried in every error's `data.reason`.
 * Callers branch on these, never on message text.
 */
export const reasons = {
  /** Input failed validation; `data.fieldErrors` says which field. */
  INVALID_INPUT: "INVALID_INPUT",
  /** The substation's physical capacity cannot cover every session's minimum plus this one's. */
  INSUFFICIENT_CAPACITY: "INSUFFICIENT_CAPACITY",
  /** It would fit the capacity, but the grid operator's limit is lower. */
  OPERATOR_LIMIT: "OPERATOR_LIMIT",
  /** No reachable substation can admit the request; `details.substations` gives each one's reason. */
  GRID_FULL: "GRID_FULL",
  /** No substation answered. */
  NO_SUBSTATION_AVAILABLE: "NO_SUBSTATION_AVAILABLE",
  /** A substation did not answer in time and may or may not have started the session. */
  SUBSTATION_TIMEOUT: "SUBSTATION_TIMEOUT",
  /**
   * The request's deadline (what was left of the caller's) passed before a substation admitted it: nothing
   * was started. A substation refuses a startSession that arrives after its deadline with it.
   */
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  /** The next service in the chain did not answer. */
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  /** The vehicle already has an active session; stop it first, or retry with the key that started it. */
  VEHICLE_ALREADY_CHARGING: "VEHICLE_ALREADY_CHARGING",
  /**
   * The substation that holds this vehicle's active session (or this idempotency key's) is unreachable; it
   * is not booked elsewhere, which could double-book the vehicle. Retry later.
   */
  HOME_SUBSTATION_UNAVAILABLE: "HOME_SUBSTATION_UNAVAILABLE",
  /**
   * The balancers' shared state store forgot what it held (a flush, a restart without persistence, a failover
   * to an empty replica) and is being rebuilt from the substations: nothing was started; retry after
   * `Retry-After`.
   */
  STATE_REBUILDING: "STATE_REBUILDING",
  /** The substation is being drained by an operator: it takes no new sessions, existing ones run on. */
  SUBSTATION_DRAINING: "SUBSTATION_DRAINING",
  /** The substation is shutting down (SIGTERM): no new sessions; its sessions are taken up on restart. */
  SUBSTATION_CLOSING: "SUBSTATION_CLOSING",
  /** This idempotency key already started a session for another vehicle: a key names one request. */
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  /** The session id names a substation the balancer does not know. */
  UNKNOWN_SUBSTATION: "UNKNOWN_SUBSTATION",
  NOT_FOUND: "NOT_FOUND",
  /** An internal or admin procedure was called without the right service token. */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** The request body is larger than the server accepts. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** Only JSON bodies are accepted (`content-type: application/json`). */
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  /**
   * The caller has used up a quota (`details.quota`: `rate`, `active_sessions`, `grid_share`, `waiting` or
   * `watchers`; `details.limit`). The `Retry-After` header says when to try again.
   */
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  /** As many requests are already waiting for capacity as the grid queues; `Retry-After` says when to retry. */
  WAIT_QUEUE_FULL: "WAIT_QUEUE_FULL",
  /** The session is not the caller's: open mode needs the `sessionSecret` that requestCharge returned. */
  SESSION_FORBIDDEN: "SESSION_FORBIDDEN",
  /** The minimum asked for is more than any substation of the grid could ever supply: waiting cannot help. */
  EXCEEDS_SITE_CAPACITY: "EXCEEDS_SITE_CAPACITY",
  /** The substation cannot write its journal (disk full, I/O error): existing sessions run on, new ones are refused. */
  JOURNAL_UNAVAILABLE: "JOURNAL_UNAVAILABLE",
  /** Sessions cannot be watched through this charge-api (its internal calls go over HTTP, not links). */
  WATCH_UNAVAILABLE: "WATCH_UNAVAILABLE",
  /**
   * The request asks for a priority class above what the caller may ask for (`details.allowed`): anonymous
   * callers and API keys without a class may ask for `standard` only.
   */
  PRIORITY_NOT_ALLOWED: "PRIORITY_NOT_ALLOWED",
  /**
   * A `strict: true` request asks for more energy than even its maxKw can deliver before its departure
   * (`details.maxDeliverableKwh`). Without strict it is admitted and delivers what it can.
   */
  DEPARTURE_UNREACHABLE: "DEPARTURE_UNREACHABLE",
  /**
   * (OCPP gateway, internal) The booking a request goes on with (`movedFrom`) goes on in a session of this
   * substation already: one session continues a booking.
   */
  BOOKING_ALREADY_MOVED: "BOOKING_ALREADY_MOVED",
  /**
   * (Substation, internal) As many sources hold power drawn with no session there (setDrawHold) as it keeps:
   * one must lift its hold first.
   */
  DRAW_HOLDS_FULL: "DRAW_HOLDS_FULL",
  /** The caller hung up before its answer was ready (recorded in metrics and traces; nobody reads it). */
  CALLER_GONE: "CALLER_GONE",
  INTERNAL: "INTERNAL",
} as const;
export type Reason = (typeof reasons)[keyof typeof reasons];

/** The `data` every error response carries (tRPC's shape plus ours). */
export const errorDataSchema = z.object({
  code: z.string(),
  httpStatus: z.number(),
  reason: z.string(),
  path: z.string().optional(),
  fieldErrors: z.record(z.string(), z.array(z.string()).optional()).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorData = z.infer<typeof errorDataSchema>;

/**
 * An answer that cannot say whether a session was started (a substation or the balancer did not answer in
 * time, and may have started it) carries `details.uncertain: true` and the `idempotencyKey` the request went
 * with (the caller's, or the one the charge-api made for it). A retry with that key settles it: the same
 * session, or a certain answer. Every other refusal of a charge request is certain: nothing was started.
 */
export const uncertainDetailsSchema = z.looseObject({
  uncertain: z.literal(true),
  idempotencyKey: z.string().optional(),
});

/** True for an error whose details say its outcome is unknown (see uncertainDetailsSchema). */
export function isUncertain(data: ErrorData | undefined): boolean {
  return uncertainDetailsSchema.safeParse(data?.details).success;
}

/** One substation's part in a failed dispatch. */
export interface DispatchAttempt {
  substationId: string;
  outcome: "refused" | "failed" | "skipped";
  reason: string;
}

/** Reads our error data out of anything a tRPC client threw; undefined for transport errors. */
export function errorDataOf(err: unknown): ErrorData | undefined {
  if (typeof err !== "object" || err === null || !("data" in err)) return undefined;
  const parsed = errorDataSchema.safeParse((err as { data: unknown }).data);
  return parsed.success ? parsed.data : undefined;
}
