import { z } from "zod";
import { ownerSchema, priorityClassSchema, substationIdSchema } from "./charge.ts";

export const endReasons = [
  "time_elapsed",
  "energy_delivered",
  "stopped",
  "curtailed",
  /** Its charger went offline and did not come back within the grace period (OCPP gateway). */
  "charger_offline",
  /** Its departure came before its energy was delivered. */
  "departed",
  /**
   * A booking claimed at a charger of another substation (OCPP gateway): it goes on there, in the session
   * the public getSession names as its `movedTo`.
   */
  "moved",
] as const;
export type EndReason = (typeof endReasons)[number];

export const sessionSchema = z.object({
  sessionId: z.string(),
  substationId: z.string(),
  vehicleId: z.string(),
  minKw: z.number(),
  maxKw: z.number(),
  /**
   * An effective maximum below maxKw while the vehicle draws less than it is given (reclaim, set by the OCPP
   * gateway from the charger's meter); null: maxKw. Power above it goes to the others. (A session pinned
   * above maxKw, at a charger that takes no limits, shows allocatedKw above maxKw and capKw null.)
   */
  capKw: z.number().nullable(),
  /** Power the substation gives this session right now (0 once ended). */
  allocatedKw: z.number(),
  status: z.enum(["active", "ended"]),
  startedAt: z.iso.datetime(),
  /** Set for time-based sessions. */
  durationS: z.number().nullable(),
  /** Set for energy-based sessions: the target. */
  energyKwh: z.number().nullable(),
  deliveredKwh: z.number(),
  /**
   * Active sessions only, and only once a charger's meter has reported (OCPP gateway): the energy it metered,
   * which deliveredKwh then is. Absent: deliveredKwh is what the allocation integrates to, an estimate (a
   * booking made through the public API has no car before one plugs in). The public API never shows it.
   */
  meteredKwh: z.number().optional(),
  /**
   * Ended `moved` only: the substation the booking goes on at, as the OCPP gateway said when it released it
   * (absent for a move journaled before destinations were). Internal: the public API shows `movedTo`.
   */
  movedToSubstationId: substationIdSchema.optional(),
  /** When the session will end at the current allocation (an estimate for energy-based sessions). */
  expectedEndAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime().nullable(),
  endReason: z.enum(endReasons).nullable(),
  /** The caller's own key, as it sent it (keys are scoped to their owner). */
  idempotencyKey: z.string().nullable(),
  /** Who started it (see ownerSchema); the public API never shows it. */
  owner: ownerSchema,
  /** Its priority class: a weight in the fair share above the minimums. */
  priority: priorityClassSchema,
  /** When the vehicle leaves (energy sessions only); null or absent: no departure. */
  departAt: z.iso.datetime().nullish(),
  /** With a departure: what it will have by then at its current allocation (kWh), updated on each re-share. */
  projectedKwh: z.number().nullish(),
  /** With a departure: whether projectedKwh meets energyKwh. */
  onTrack: z.boolean().nullish(),
  /** With a departure: the most even maxKw could deliver by then, as of admission. */
  maxDeliverableKwh: z.number().nullish(),
});
export type Session = z.infer<typeof sessionSchema>;
/** The fields of a session that stay inside the grid: the public API strips them (charge-api public-view.ts). */
export const INTERNAL_SESSION_FIELDS = { owner: true, meteredKwh: true, movedToSubstationId: true } as const;
/** A session as its owner sees it through the public API. */
export type PublicSession = Omit<Session, keyof typeof INTERNAL_SESSION_FIELDS>;

/** One substation's load as its own authority reports it. */
export const substationLoadSchema = z.object({
  substationId: substationIdSchema,
  capacityKw: z.number(),
  /** Operator (grid) limit in force, if any. */
  limitKw: z.number().nullable(),
  /** min(capacityKw, limitKw), less heldDrawKw: what sessions may really draw. */
  effectiveCapacityKw: z.number(),
  /** Power handed out right now: min(demandKw, effectiveCapacityKw). */
  allocatedKw: z.number(),
  /** Sum of the active sessions' maxKw: what they would take if power were unlimited. */
  demandKw: z.number(),
  /** Sum of the active sessions' minKw: what admission has promised. */
  committedMinKw: z.number(),
  activeSessions: z.number().int(),
  /** allocatedKw / effectiveCapacityKw: 0..1, above 1 while minimums exceed it (draws held, a limit cut). */
  utilization: z.number(),
  /** effectiveCapacityKw - committedMinKw: the largest minimum that could still be admitted. */
  headroomKw: z.number(),
  /** Power drawn at the site that no session holds (setDrawHold: the OCPP gateway's stray draws). */
  heldDrawKw: z.number().optional(),
  /** Drained by an operator: no new sessions. */
  draining: z.boolean(),
  /** Increases on every change, so a reader can tell which of two snapshots is newer. */
  version: z.number().int(),
  measuredAtMs: z.number(),
});
export type SubstationLoad = z.infer<typeof substationLoadSchema>;

/**
 * The `details` of a substation's refusal (full, held down by the operator's limit, draining): which
 * substation, and its load as of the refusal, which the balancer takes as news. Built by the substation,
 * read back by the balancer with this schema.
 */
export const refusalDetailsSchema = z.object({
  substationId: substationIdSchema,
  load: substationLoadSchema,
  /** For a full site: the minimum asked for, and the largest that would still fit. */
  requestedMinKw: z.number().optional(),
  headroomKw: z.number().optional(),
});
export type RefusalDetails = z.infer<typeof refusalDetailsSchema>;

export const listSessionsInputSchema = z
  .strictObject({
    status: z.enum(["active", "ended", "all"]).default("active"),
    limit: z.number().int().min(1).max(10_000).default(1000),
  })
  .default({ status: "active", limit: 1000 });

/** A substation announcing itself to a balancer: the base URL the balancer should call it on. */
export const registrationSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "url must be an http:// or https:// base URL" }).max(2048),
});

export const setDrainingInputSchema = z.strictObject({ draining: z.boolean() });

/**
 * Power drawn at the site that no session holds, as one source counts it (the OCPP gateway: chargers drawing
 * on a connector with no open transaction); 0 lifts it. Each source's hold replaces its last one.
 */
export const setDrawHoldInputSchema = z.strictObject({
  source: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/, "source: letters, digits and . _ : - only"),
  kw: z.number().nonnegative("kw must be 0 or more").max(1_000_000),
});

export const setLimitInputSchema = z.strictObject({
  /** null lifts the operator limit. */
  limitKw: z.number().nonnegative("limitKw must be 0 or more").max(1_000_000).nullable(),
});

/**
 * What a substation streams to whoever watches its power (the OCPP gateway): every re-share as the one water
 * level it computed (each session gets shareAtLevel(minKw, capKw ?? maxKw, level), packages/policy), and
 * every end. The first event of a subscription is the current level.
 */
export const powerEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("level"),
    substationId: substationIdSchema,
    version: z.number().int(),
    /**
     * This run of the substation: another after a restart, which forgets what was set on its sessions and not
     * journaled (setSessionCap's caps and pins): the gateway sets them again. Absent: an older substation.
     */
    bootId: z.string().max(64).optional(),
    /** null: power for everyone's maximum (no level binds). */
    levelKw: z.number().nullable(),
    /**
     * min(capacityKw, limitKw), less drawHolds, as of this level: what the sessions' chargers' accepted
     * limits must stay within (the gateway sends decreases before increases against it).
     */
    effectiveCapacityKw: z.number(),
    /**
     * Power held for draws no session holds (setDrawHold), by source, taken off effectiveCapacityKw: the
     * gateway, which counts its own in its books, compares its source's with its count. Absent: an older
     * substation.
     */
    drawHolds: z.record(z.string(), z.number()).optional(),
    /**
     * Sessions whose departure lifts their floor above their minimum (packages/policy needFloors), by id:
     * each gets shareAtLevel with this as its minimum. Absent: none.
     */
    floorsKw: z.record(z.string(), z.number()).optional(),
    atMs: z.number(),
  }),
  z.object({
    type: z.literal("ended"),
    substationId: substationIdSchema,
    sessionId: z.string(),
    endReason: z.enum(endReasons),
    deliveredKwh: z.number(),
    atMs: z.number(),
  }),
]);
export type PowerEvent = z.infer<typeof powerEventSchema>;

/** One session as a watcher sees it change: its power, its energy, its end. */
export const sessionUpdateSchema = z.object({
  sessionId: z.string(),
  status: z.enum(["active", "ended"]),
  allocatedKw: z.number(),
  deliveredKwh: z.number(),
  endReason: z.enum(endReasons).nullable(),
  /** With a departure: what it will have by then at this power, and whether that meets its target. */
  projectedKwh: z.number().nullish(),
  onTrack: z.boolean().nullish(),
  atMs: z.number(),
});
export type SessionUpdate = z.infer<typeof sessionUpdateSchema>;
