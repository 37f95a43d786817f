import { z } from "zod";
import { bookingIdTagSchema } from "./booking.ts";
import { INTERNAL_SESSION_FIELDS, sessionSchema, substationLoadSchema } from "./substation.ts";

/**
 * What the public API answers, as schemas: the OpenAPI document is generated from them. The charge-api does
 * not validate its answers against them (no cost per call); a type test there keeps them equal to what its
 * router returns, so a field added to an answer fails the typecheck until it is added here.
 */

/**
 * A session as the public sees it (stopCharge): everything but the owner id, the meter's internal view and
 * where a moved booking went (getSession's movedTo says that, to its owner).
 */
export const publicSessionSchema = sessionSchema.omit(INTERNAL_SESSION_FIELDS);

/**
 * A session as its owner reads it (getSession): with the idTag that claims it at a charger, and, for a
 * booking claimed at a charger of another substation (`endReason: "moved"`), the session it goes on in there
 * (null until it is admitted there, and for any other session).
 */
export const ownedSessionSchema = publicSessionSchema.extend({
  idTag: bookingIdTagSchema,
  movedTo: z
    .object({
      sessionId: z.string(),
      /** Open mode: its secret, for getSession, stopCharge and watchSession; null for API-key callers. */
      sessionSecret: z.string().nullable(),
    })
    .nullable(),
});

/** What requestCharge answers: the session as granted, how it was reached, and how to act on it later. */
export const chargeGrantSchema = sessionSchema
  .pick({
    sessionId: true,
    substationId: true,
    vehicleId: true,
    allocatedKw: true,
    minKw: true,
    maxKw: true,
    startedAt: true,
    expectedEndAt: true,
    durationS: true,
    energyKwh: true,
    priority: true,
    departAt: true,
    projectedKwh: true,
    onTrack: true,
    maxDeliverableKwh: true,
  })
  .extend({
    /** Substations tried before one admitted the request. */
    tries: z.number().int(),
    /** True when this answers a retry: an earlier request with the same idempotency key started the session. */
    replayed: z.boolean(),
    /**
     * Open mode: the proof that the caller started this session, needed by getSession, stopCharge and
     * watchSession. null for API-key callers (the key owns its sessions).
     */
    sessionSecret: z.string().nullable(),
    /** What the owner presents at a charger (OCPP idTag / idToken) to claim this booking there. */
    idTag: bookingIdTagSchema,
  });

/** One substation as the public sees it: id, health and load (never its address or errors). */
export const publicSubstationSchema = z.object({
  /** null until the substation has answered once. */
  substationId: z.string().nullable(),
  healthy: z.boolean(),
  load: substationLoadSchema.nullable(),
});

/** gridStatus: every substation's last known load, and totals over the healthy ones. */
export const gridStatusSchema = z.object({
  substations: z.array(publicSubstationSchema),
  totals: z.object({
    substations: z.number().int(),
    healthy: z.number().int(),
    effectiveCapacityKw: z.number(),
    allocatedKw: z.number(),
    committedMinKw: z.number(),
    activeSessions: z.number(),
  }),
});
