import { MAX_SESSION_KW, MIN_SESSION_KW, reasons, substationIdSchema } from "@evgrid/contract";
import { GridError, internalProcedure, router } from "@evgrid/kit";
import { z } from "zod";
import type { Gateway } from "./gateway.ts";
import type { Registry } from "./registry.ts";

/**
 * A charge point id as it appears in ws://HOST:8180/ocpp/<id> and as the Basic auth user: OCPP's
 * identifierString (2.0.1), at most 48 characters.
 */
export const chargePointIdSchema = z
  .string()
  .min(1, "chargePointId must not be empty")
  .max(48, "chargePointId is at most 48 characters")
  .regex(/^[A-Za-z0-9*\-_=+|@.]+$/, "chargePointId may use letters, digits and * - _ = + | @ . only");

export const registerChargePointSchema = z.strictObject({
  chargePointId: chargePointIdSchema,
  substationId: substationIdSchema,
  /** Security Profile 1's password: 16-40 characters (OCPP 1.6 security whitepaper, 2.0.1 A00). */
  password: z
    .string()
    .min(16, "password must be at least 16 characters")
    .max(40, "password is at most 40 characters"),
  maxKw: z
    .number()
    .min(MIN_SESSION_KW, `maxKw must be at least ${MIN_SESSION_KW} kW`)
    .max(MAX_SESSION_KW, `maxKw must be at most ${MAX_SESSION_KW} kW`),
  /**
   * Its connectors (1.6) / EVSEs (2.0.1), numbered from 1: a transaction on any other id is refused. 2 by
   * default, as most public AC posts have two sockets; a one-socket charger registered with the default can
   * open a second transaction, but its transactions together still never hold more than maxKw.
   */
  connectors: z
    .number()
    .int("connectors must be a whole number")
    .min(1, "connectors must be at least 1")
    .max(64, "connectors is at most 64")
    .default(2),
});

/** Admin procedures (service token): the registry of charge points and what each one is doing. */
export function gatewayRouter(registry: Registry, gateway: Gateway, ocppUrl: string) {
  const view = () =>
    registry.all().map((cp) => ({
      chargePointId: cp.chargePointId,
      substationId: cp.substationId,
      maxKw: cp.maxKw,
      bootedAt: cp.bootedAt === null ? null : new Date(cp.bootedAt).toISOString(),
      /** When its meter showed it drawing more than it accepted (it takes no limits since); null: never. */
      overdrawnAt: cp.overdrawnAt === null ? null : new Date(cp.overdrawnAt).toISOString(),
      ...gateway.status(cp),
    }));
  return router({
    /** Adds a charge point, or changes one (its password, site or maximum); the password is stored hashed. */
    registerChargePoint: internalProcedure.input(registerChargePointSchema).mutation(async ({ input }) => {
      await registry.register(input);
      return { chargePointId: input.chargePointId, url: `/ocpp/${encodeURIComponent(input.chargePointId)}` };
    }),
    /** Removes a charge point: it is disconnected and its sessions end. */
    removeChargePoint: internalProcedure
      .input(z.strictObject({ chargePointId: chargePointIdSchema }))
      .mutation(async ({ input }) => {
        if (!registry.get(input.chargePointId)) {
          throw new GridError("NOT_FOUND", reasons.NOT_FOUND, `no charge point ${input.chargePointId}`, {
            chargePointId: input.chargePointId,
          });
        }
        await gateway.removed(input.chargePointId);
        registry.remove(input.chargePointId);
        return { removed: true };
      }),
    /**
     * Trusts a charge point caught drawing more than it accepted again (see `overdrawnAt`), once it has
     * been looked at: its next accepted limit makes it managed. `cleared: false`: it was not caught.
     */
    clearOverdraw: internalProcedure
      .input(z.strictObject({ chargePointId: chargePointIdSchema }))
      .mutation(({ input }) => {
        if (!registry.get(input.chargePointId)) {
          throw new GridError("NOT_FOUND", reasons.NOT_FOUND, `no charge point ${input.chargePointId}`, {
            chargePointId: input.chargePointId,
          });
        }
        return { chargePointId: input.chargePointId, cleared: gateway.trustAgain(input.chargePointId) };
      }),
    /** Where charge points connect (ws://HOST:OCPP_PORT/ocpp), and how many are registered and connected. */
    gatewayInfo: internalProcedure.query(() => ({
      ocppUrl,
      chargePoints: registry.all().length,
      connected: gateway.connectedCount,
    })),
    /** Every charge point: connected or not, each connector's status, its transactions, sessions and profiles. */
    listChargePoints: internalProcedure.query(() => view()),
  });
}

export type GatewayRouter = ReturnType<typeof gatewayRouter>;
