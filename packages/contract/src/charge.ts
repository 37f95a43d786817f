import { z } from "zod";

/** Defaults of the original Flask system, kept so its clients see the same behaviour. */
export const DEFAULT_MAX_KW = 11;
/** About 6 A on three phases: below this an AC session cannot run. */
export const DEFAULT_MIN_KW = 4.2;
export const DEFAULT_DURATION_S = 5;
/** The largest DC charger on the market; anything above is a typo or an attack. */
export const MAX_SESSION_KW = 350;
export const MAX_DURATION_S = 24 * 60 * 60;
export const MAX_ENERGY_KWH = 1000;
/** Longest a request may wait for capacity. */
export const MAX_WAIT_S = 300;

export const vehicleIdSchema = z
  .string()
  .min(1, "vehicleId must not be empty")
  .max(64, "vehicleId is at most 64 characters")
  .regex(/^[A-Za-z0-9._:-]+$/, "vehicleId may use letters, digits and . _ : - only");

/** Lower-case and dash only: ids appear in URLs, metric labels and session ids. */
export const substationIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "substation id: 1-48 of a-z, 0-9 and -, not starting with -");

/**
 * A session id is `<substationId>.<32 hex>`: the substation that owns it can be found from the id alone,
 * so no shared database is needed to route stop/get calls.
 */
export const sessionIdSchema = z
  .string()
  .max(100)
  .regex(
    /^[a-z0-9][a-z0-9-]{0,47}\.[0-9a-f]{32}$/,
    "sessionId must look like <substationId>.<32 hex digits>",
  );

export function substationOfSession(sessionId: string): string {
  return sessionId.slice(0, sessionId.lastIndexOf("."));
}

const kw = (field: string) =>
  z
    .number({ error: `${field} must be a number of kW` })
    .positive(`${field} must be greater than 0`)
    .max(MAX_SESSION_KW, `${field} must be at most ${MAX_SESSION_KW} kW`);

/**
 * What a vehicle asks for. Either `durationS` (ends after that time, the original system's 5 s by default)
 * or `energyKwh` (ends once that energy is delivered). Unknown keys are refused so typos are not silently ignored.
 */
export const idempotencyKeySchema = z
  .string()
  .min(1, "idempotencyKey must not be empty")
  .max(128, "idempotencyKey is at most 128 characters")
  .regex(/^[A-Za-z0-9._:-]+$/, "idempotencyKey may use letters, digits and . _ : - only");

export const chargeRequestSchema = z
  .strictObject({
    vehicleId: vehicleIdSchema,
    /** Retries with the same key get the same session back, never a second one. */
    idempotencyKey: idempotencyKeySchema.optional(),
    /** If the grid is full, wait up to this long (in a fair FIFO queue) for power to free up. */
    waitS: z
      .number()
      .positive("waitS must be greater than 0")
      .max(MAX_WAIT_S, `waitS must be at most ${MAX_WAIT_S}`)
      .optional(),
    maxKw: kw("maxKw").default(DEFAULT_MAX_KW),
    minKw: kw("minKw").optional(),
    durationS: z
      .number()
      .positive("durationS must be greater than 0")
      .max(MAX_DURATION_S, `durationS must be at most ${MAX_DURATION_S} (24 h)`)
      .optional(),
    energyKwh: z
      .number()
      .positive("energyKwh must be greater than 0")
      .max(MAX_ENERGY_KWH, `energyKwh must be at most ${MAX_ENERGY_KWH}`)
      .optional(),
  })
  .superRefine((req, ctx) => {
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
  })
  .transform((req) => {
    const minKw = req.minKw ?? Math.min(req.maxKw, DEFAULT_MIN_KW);
    const base = {
      vehicleId: req.vehicleId,
      maxKw: req.maxKw,
      minKw,
      ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
      ...(req.waitS === undefined ? {} : { waitS: req.waitS }),
    };
    return req.energyKwh !== undefined
      ? { ...base, energyKwh: req.energyKwh }
      : { ...base, durationS: req.durationS ?? DEFAULT_DURATION_S };
  });

/** What callers send (defaults optional). */
export type ChargeRequestInput = z.input<typeof chargeRequestSchema>;
/** What servers see after validation (defaults filled in). */
export type ChargeRequest = z.output<typeof chargeRequestSchema>;

export const sessionRefSchema = z.strictObject({ sessionId: sessionIdSchema });
export type SessionRef = z.infer<typeof sessionRefSchema>;
