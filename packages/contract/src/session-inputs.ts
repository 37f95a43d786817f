/** What internal calls name a session by, and what they change of it (the substations' procedures). */
import { z } from "zod";
import {
  kwFieldSchema,
  MAX_ENERGY_KWH,
  ownerSchema,
  sessionIdSchema,
  substationIdSchema,
  substationOfSession,
  vehicleIdSchema,
} from "./charge.ts";

/**
 * A public caller names a session. In open mode (no API keys) it must also show the session's secret,
 * which `requestCharge` handed to whoever started the session.
 */
export const sessionRefSchema = z.strictObject({
  sessionId: sessionIdSchema.describe("As requestCharge returned it: <substationId>.<32 hex>."),
  sessionSecret: z
    .string()
    .max(128, "sessionSecret is at most 128 characters")
    .nullish()
    .describe(
      "Open mode: the secret requestCharge returned, the proof that this caller started the session.",
    ),
});

/**
 * An internal call names a session. With `owner`, a session of anybody else is answered as not found
 * (the public API passes the caller's API key); without, any session (operators, the service token).
 */
export const sessionAccessSchema = z.strictObject({
  sessionId: sessionIdSchema,
  owner: ownerSchema.optional(),
});

/**
 * Ends a session: the operator's or owner's stop, or (OCPP gateway) its charger gone for good, or its booking
 * claimed at a charger of another substation (`moved`: it goes on there, at `movedToSubstationId`).
 */
export const stopSessionInputSchema = z
  .strictObject({
    sessionId: sessionIdSchema,
    owner: ownerSchema.optional(),
    reason: z.enum(["stopped", "charger_offline", "moved"]).default("stopped"),
    /**
     * With `moved` only: the substation the booking goes on at (the charger's). Kept with the end, so
     * whoever follows the move asks that one substation (the balancer's findMovedSession), not all of them.
     */
    movedToSubstationId: substationIdSchema.optional(),
  })
  .superRefine((input, ctx) => {
    const to = input.movedToSubstationId;
    if (to === undefined) return;
    const issue = (message: string) =>
      ctx.addIssue({ code: "custom", path: ["movedToSubstationId"], message });
    if (input.reason !== "moved") issue("movedToSubstationId goes with reason moved only");
    else if (to === substationOfSession(input.sessionId))
      issue("movedToSubstationId names another substation than the session's own");
  });
export type StopReason = z.output<typeof stopSessionInputSchema>["reason"];
/** What a stop names: the session, whose it is, why, and where a `moved` one went. */
export type StopSessionInput = z.input<typeof stopSessionInputSchema>;

/**
 * The session a booking that ended `moved` goes on in (the balancer's findMovedSession). With
 * `movedToSubstationId` (the booking's end recorded it) only that substation is asked; without (a move
 * recorded before destinations were), every other one.
 */
export const findMovedSessionInputSchema = sessionAccessSchema.extend({
  movedToSubstationId: substationIdSchema.optional(),
});

/** What the record of a moved booking stopped before it was admitted where it went keeps of the booking. */
const movedBookingFields = () => ({
  owner: ownerSchema,
  vehicleId: vehicleIdSchema,
  minKw: kwFieldSchema("minKw"),
  maxKw: kwFieldSchema("maxKw"),
});

/**
 * A booking that ended `moved`, stopped by its owner, at the substation it went to (`movedFrom`: the
 * booking's id): the session it goes on in there is stopped; not admitted yet (its car waits for room), it is
 * recorded there as ended before it began, so it never is (one booking goes on in one session). The booking's
 * vehicle and bounds are that record's.
 */
export const stopMovedInputSchema = z.strictObject({ movedFrom: sessionIdSchema, ...movedBookingFields() });
export type StopMovedInput = z.output<typeof stopMovedInputSchema>;

/**
 * The balancer's stopMovedSession: the booking as findMovedSession names it (its id, its owner, where it
 * went), with its vehicle and bounds. Without `movedToSubstationId` (a move recorded before destinations
 * were), the session it went on in is looked for and stopped if found.
 */
export const stopMovedSessionInputSchema = findMovedSessionInputSchema.extend(movedBookingFields());
export type StopMovedSessionInput = z.output<typeof stopMovedSessionInputSchema>;

/** Reclaim (OCPP gateway): an effective maximum below the session's maxKw while it draws less; null lifts it. */
export const setSessionCapInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  capKw: kwFieldSchema("capKw").nullable(),
  /**
   * Its charger takes no limits (it rejects them or does not answer): the session is accounted at its
   * effective maximum whatever the level, so the others' shares leave room for what it may really draw;
   * pinned, `capKw` may be above the session's own maximum (what its charger may draw).
   * Refused (INSUFFICIENT_CAPACITY / OPERATOR_LIMIT) if that maximum does not fit; false lifts it.
   */
  pinned: z.boolean().default(false),
  /**
   * The most the vehicle itself can take (NotifyEVChargingNeeds). Below the session's minimum, the minimum
   * is lowered to it while it lasts: power the car cannot take is not held back from the others.
   */
  carMaxKw: kwFieldSchema("carMaxKw").nullish(),
});

/** A charger's meter (OCPP gateway): energy delivered to the session so far, which ends an energy session. */
export const meterReadingInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  energyKwh: z
    .number()
    .nonnegative("energyKwh must be 0 or more")
    .max(MAX_ENERGY_KWH * 2),
});

/**
 * What the car says it needs (OCPP 2.0.1 NotifyEVChargingNeeds, ISO 15118, through the OCPP gateway): this
 * much energy by this departure. The bound session takes them (a time-based walk-in becomes energy-based).
 */
export const setSessionNeedsInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  energyKwh: z
    .number()
    .positive("energyKwh must be greater than 0")
    .max(MAX_ENERGY_KWH, `energyKwh must be at most ${MAX_ENERGY_KWH}`),
  departAt: z.iso.datetime({ offset: true }).optional(),
});
export type SessionNeeds = z.infer<typeof setSessionNeedsInputSchema>;
