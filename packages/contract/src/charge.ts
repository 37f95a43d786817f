import { z } from "zod";

/** Defaults of the original Flask system, kept so its clients see the same behaviour. */
export const DEFAULT_MAX_KW = 11;
/** About 6 A on three phases: below this an AC session cannot run. */
export const DEFAULT_MIN_KW = 4.2;
export const DEFAULT_DURATION_S = 5;
/** The largest DC charger on the market; anything above is a typo or an attack. */
export const MAX_SESSION_KW = 350;
/**
 * The least power any session may ask for. An AC charger cannot run below 6 A (IEC 61851): 1.4 kW on one
 * phase. 1 kW leaves room for low-voltage sites while keeping power, not the caller, the thing that bounds
 * how many sessions a site holds: at 1e-300 kW one client could open millions.
 */
export const MIN_SESSION_KW = 1;
export const MAX_DURATION_S = 24 * 60 * 60;
export const MAX_ENERGY_KWH = 1000;
/** The furthest departure a request may name: a week (a depot's weekend, not a parking lot's year). */
export const MAX_DEPART_IN_S = 7 * 24 * 60 * 60;
/** Longest a request may wait for capacity. */
export const MAX_WAIT_S = 300;

/** The characters of a vehicle id and an idempotency key. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
export const MAX_VEHICLE_ID_LENGTH = 64;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

export const vehicleIdSchema = z
  .string()
  .min(1, "vehicleId must not be empty")
  .max(MAX_VEHICLE_ID_LENGTH, `vehicleId is at most ${MAX_VEHICLE_ID_LENGTH} characters`)
  .regex(ID_PATTERN, "vehicleId may use letters, digits and . _ : - only");

/**
 * The vehicle id the OCPP gateway gives a walk-in: its idTag / idToken under a prefix the public API refuses,
 * so no booking can sit on a walk-in's id and no walk-in's id can name a booked vehicle.
 */
export const WALK_IN_VEHICLE_PREFIX = "ocpp:";
export const walkInVehicleId = (idTag: string) => `${WALK_IN_VEHICLE_PREFIX}${idTag}`;

/** Lower-case and dash only: ids appear in URLs, metric labels and session ids. */
export const SUBSTATION_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const substationIdSchema = z
  .string()
  .regex(SUBSTATION_ID_PATTERN, "substation id: 1-48 of a-z, 0-9 and -, not starting with -");

/**
 * A session id is `<substationId>.<32 hex>`: the substation that owns it can be found from the id alone,
 * so no shared database is needed to route stop/get calls.
 */
export const SESSION_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}\.[0-9a-f]{32}$/;
export const sessionIdSchema = z
  .string()
  .max(100)
  .regex(SESSION_ID_PATTERN, "sessionId must look like <substationId>.<32 hex digits>");

export function substationOfSession(sessionId: string): string {
  return sessionId.slice(0, sessionId.lastIndexOf("."));
}

/** A power in kW, within what any session may have, its errors naming `field`. */
export const kwFieldSchema = (field: string) =>
  z
    .number({ error: `${field} must be a number of kW` })
    .min(MIN_SESSION_KW, `${field} must be at least ${MIN_SESSION_KW} kW`)
    .max(MAX_SESSION_KW, `${field} must be at most ${MAX_SESSION_KW} kW`);

/** Retries with the same key get the same session back, never a second one. Scoped to the caller. */
export const idempotencyKeySchema = z
  .string()
  .min(1, "idempotencyKey must not be empty")
  .max(MAX_IDEMPOTENCY_KEY_LENGTH, `idempotencyKey is at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`)
  .regex(ID_PATTERN, "idempotencyKey may use letters, digits and . _ : - only");

/**
 * Who a session belongs to, as the public API identified its caller: `key:<16 hex>` (an API key, by a hash of
 * it), `addr:<address>` (open mode: the client's address, IPv6 by its /64) or `operator` (the service token).
 * Set by the charge-api, never by the caller; internal procedures use it to scope keys and check access.
 */
export const OWNER_PATTERN = /^(operator|key:[0-9a-f]{16}|addr:[0-9A-Za-z.:/]{1,64})$/;
export const MAX_OWNER_LENGTH = 72;
export const ownerSchema = z
  .string()
  .max(MAX_OWNER_LENGTH)
  .regex(OWNER_PATTERN, "owner: operator, key:<hex> or addr:<address>");
export const OPERATOR = "operator";

/**
 * A request's priority class: a weight in the fair share above the minimums and an order in the wait queue
 * (packages/policy/src/priority.ts has the weights; a test keeps the two lists equal). Anonymous callers
 * and API keys without a class may ask for `standard` only.
 */
export const priorityClassSchema = z.enum(["standard", "fleet", "emergency"], {
  error: "priority must be standard, fleet or emergency",
});
export type Priority = z.infer<typeof priorityClassSchema>;

const chargeFields = {
  // The descriptions are for integrators: they are the OpenAPI document's (GET /openapi.json).
  vehicleId: vehicleIdSchema.describe("The vehicle; it holds one active session at a time."),
  priority: priorityClassSchema
    .optional()
    .describe("standard (default), fleet or emergency; above standard needs an API key that allows it."),
  idempotencyKey: idempotencyKeySchema
    .optional()
    .describe("A retry with the same key (the caller's own) returns the same session, never a second."),
  waitS: z
    .number()
    .positive("waitS must be greater than 0")
    .max(MAX_WAIT_S, `waitS must be at most ${MAX_WAIT_S}`)
    .optional()
    .describe("If the grid is full, wait up to this many seconds (a fair queue) for power to free up."),
  maxKw: kwFieldSchema("maxKw").default(DEFAULT_MAX_KW).describe("The most power the vehicle takes."),
  minKw: kwFieldSchema("minKw")
    .optional()
    .describe(`The least power it can charge with; default the lower of maxKw and ${DEFAULT_MIN_KW}.`),
  durationS: z
    .number()
    .positive("durationS must be greater than 0")
    .max(MAX_DURATION_S, `durationS must be at most ${MAX_DURATION_S} (24 h)`)
    .optional()
    .describe(`Ends after this many seconds (default ${DEFAULT_DURATION_S}); or give energyKwh.`),
  energyKwh: z
    .number()
    .positive("energyKwh must be greater than 0")
    .max(MAX_ENERGY_KWH, `energyKwh must be at most ${MAX_ENERGY_KWH}`)
    .optional()
    .describe("Ends once this energy is delivered; or give durationS."),
  departAt: z.iso
    .datetime({ offset: true, error: "departAt must be an ISO time, e.g. 2026-12-02T17:30:00Z" })
    .optional()
    .describe("With energyKwh: this much energy by then. The session ends at its energy or here, first."),
  departInS: z
    .number()
    // A departure under a second away has passed before the request reaches a substation.
    .min(1, "departInS must be at least 1 (second)")
    .max(MAX_DEPART_IN_S, `departInS must be at most ${MAX_DEPART_IN_S} (7 days)`)
    .optional()
    .describe("As departAt, in seconds from now."),
  strict: z
    .boolean()
    .optional()
    .describe(
      "With a departure: refuse (DEPARTURE_UNREACHABLE) rather than admit what maxKw cannot deliver.",
    ),
};

type ChargeFields = z.output<z.ZodObject<typeof chargeFields>>;

/**
 * The checks across fields. `minAheadMs`: how far ahead a departAt must be; a caller's at least a second
 * (departInS's own minimum), a request inside the grid only ahead (it has travelled since it was checked).
 */
function checkCharge(req: ChargeFields, ctx: z.RefinementCtx, minAheadMs = 0): void {
  if (req.minKw !== undefined && req.minKw > req.maxKw) {
    ctx.addIssue({ code: "custom", path: ["minKw"], message: "minKw must not exceed maxKw" });
  }
  if (req.durationS !== undefined && req.energyKwh !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["energyKwh"],
      message: "give either durationS or energyKwh, not both",
    });
  }
  checkDeparture(req, ctx, minAheadMs);
}

/** A departure goes with an energy target, one way of saying it, between now and a week from now. */
function checkDeparture(req: ChargeFields, ctx: z.RefinementCtx, minAheadMs: number): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (req.departAt !== undefined && req.departInS !== undefined)
    issue("departInS", "give either departAt or departInS, not both");
  const field = req.departAt !== undefined ? "departAt" : "departInS";
  if (req.departAt === undefined && req.departInS === undefined) {
    if (req.strict !== undefined) issue("strict", "strict needs a departure (departAt or departInS)");
    return;
  }
  if (req.energyKwh === undefined) issue(field, `${field} needs energyKwh: this much energy by then`);
  if (req.departAt === undefined) return;
  const inMs = Date.parse(req.departAt) - Date.now();
  if (inMs <= 0) issue("departAt", "departAt is in the past");
  else if (inMs < minAheadMs) issue("departAt", "departAt must be at least a second away");
  else if (inMs > MAX_DEPART_IN_S * 1000) issue("departAt", "departAt must be at most 7 days away");
}

/** The departure as an ISO time (departInS counted from now), or nothing. */
const departureOf = (req: ChargeFields): { departAt?: string } =>
  req.departAt !== undefined
    ? { departAt: new Date(Date.parse(req.departAt)).toISOString() }
    : req.departInS !== undefined
      ? { departAt: new Date(Date.now() + req.departInS * 1000).toISOString() }
      : {};

/** Fills the defaults: the minimum from the maximum, the original 5 s unless an energy target is given. */
function normalize(req: ChargeFields) {
  const minKw = req.minKw ?? Math.min(req.maxKw, DEFAULT_MIN_KW);
  const base = {
    vehicleId: req.vehicleId,
    maxKw: req.maxKw,
    minKw,
    ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
    ...(req.waitS === undefined ? {} : { waitS: req.waitS }),
    ...(req.priority === undefined || req.priority === "standard" ? {} : { priority: req.priority }),
  };
  return req.energyKwh !== undefined
    ? { ...base, energyKwh: req.energyKwh, ...departureOf(req), ...(req.strict ? { strict: true } : {}) }
    : { ...base, durationS: req.durationS ?? DEFAULT_DURATION_S };
}

/**
 * What a vehicle asks for. Either `durationS` (ends after that time, the original system's 5 s by default)
 * or `energyKwh` (ends once that energy is delivered), the latter maybe by a departure (`departAt` or
 * `departInS`, passed on as `departAt`: the session then ends at its departure if that comes first). Unknown keys are refused so typos are not silently ignored.
 */
export const chargeRequestSchema = z
  .strictObject({
    ...chargeFields,
    vehicleId: vehicleIdSchema.refine((id) => !id.startsWith(WALK_IN_VEHICLE_PREFIX), {
      message: `vehicleId may not start with ${WALK_IN_VEHICLE_PREFIX} (kept for vehicles at chargers)`,
    }),
    // The gateway's keys (`ocpp:<charge point>:<transaction>`) can be in an owner's key space (a booking it
    // goes on with elsewhere): a caller's own key of that form would make the gateway's admission a replay.
    idempotencyKey: idempotencyKeySchema
      .refine((key) => !key.startsWith(WALK_IN_VEHICLE_PREFIX), {
        message: `idempotencyKey may not start with ${WALK_IN_VEHICLE_PREFIX} (kept for sessions at chargers)`,
      })
      .optional()
      .describe(chargeFields.idempotencyKey.description ?? ""),
  })
  .superRefine((req, ctx) => checkCharge(req, ctx, 1000))
  .transform(normalize);

/**
 * A charge request inside the grid: what the vehicle asked for, and whose it is. `substationId` pins it to one
 * substation (a vehicle plugged into a charger there: the OCPP gateway); it waits for that one only.
 */
export const dispatchRequestSchema = z
  .strictObject({
    ...chargeFields,
    owner: ownerSchema.default(OPERATOR),
    substationId: substationIdSchema.optional(),
    /**
     * Admitted already capped, as by setSessionCap (the OCPP gateway: the session's share of its charge
     * point's maximum), so its first allocation is never above it.
     */
    capKw: kwFieldSchema("capKw").optional(),
    /**
     * The booking this session goes on with (the OCPP gateway: a booking claimed at a charger of this
     * substation, ended there `moved`). The session's id is derived from it (kit movedSessionId), so the
     * booking's owner finds it from the booking's id alone; one booking goes on in one session.
     */
    movedFrom: sessionIdSchema.optional(),
    /**
     * The key was made for this request by its sender (the charge-api) and this is the key's first try
     * anywhere: no session can hold it yet, so the substation does not look for it in its journal (memory is
     * still asked). Never sent again with the key: every retry, and every key a caller chose, leaves it out.
     */
    newKey: z.literal(true).optional(),
  })
  .superRefine(checkCharge)
  .transform((req) => ({
    ...normalize(req),
    owner: req.owner,
    ...(req.substationId === undefined ? {} : { substationId: req.substationId }),
    ...(req.capKw === undefined ? {} : { capKw: req.capKw }),
    ...(req.movedFrom === undefined ? {} : { movedFrom: req.movedFrom }),
    ...(req.newKey === undefined ? {} : { newKey: req.newKey }),
  }));

/** The request as a retry sends it: the same, without `newKey` (a key tried once may be held somewhere). */
export function retryOf(req: DispatchRequest): DispatchRequest {
  if (req.newKey === undefined) return req;
  const { newKey: _, ...rest } = req;
  return rest;
}

/** What callers send (defaults optional). */
export type ChargeRequestInput = z.input<typeof chargeRequestSchema>;
/** What servers see after validation (defaults filled in). */
export type ChargeRequest = z.output<typeof chargeRequestSchema>;
/** A charge request inside the grid, with its owner. */
export type DispatchRequest = z.output<typeof dispatchRequestSchema>;
