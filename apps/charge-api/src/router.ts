import type { BalancerRouter } from "@evgrid/balancer";
import { type ChargeGrant, chargeRequestSchema, type GridStatus, sessionRefSchema } from "@evgrid/contract";
import { publicProcedure, relayUpstreamError, router, sessionSecretFor } from "@evgrid/kit";
import { annotate, attr } from "@evgrid/telemetry";
import type { TRPCClient } from "@trpc/client";

export function chargeApiRouter(
  balancer: TRPCClient<BalancerRouter>,
  callTimeoutMs: number,
  serviceToken: string,
) {
  const relay = (err: unknown): never => {
    throw relayUpstreamError(err, "balancer");
  };
  return router({
    /** Starts a charging session on the substation with the most headroom, or says why none can. */
    requestCharge: publicProcedure
      .input(chargeRequestSchema)
      .mutation(async ({ input }): Promise<ChargeGrant> => {
        annotate({ [attr.vehicleId]: input.vehicleId, [attr.requestedMaxKw]: input.maxKw });
        // A request that may wait for capacity needs the call to outlast its wait.
        const timeoutMs = input.waitS === undefined ? undefined : callTimeoutMs + input.waitS * 1000;
        const { session, tries, replayed } = await balancer.dispatch
          .mutate(input, timeoutMs === undefined ? undefined : { context: { timeoutMs } })
          .catch(relay);
        annotate({
          [attr.substationId]: session.substationId,
          [attr.sessionId]: session.sessionId,
          [attr.allocatedKw]: session.allocatedKw,
          [attr.tries]: tries,
        });
        return {
          sessionId: session.sessionId,
          substationId: session.substationId,
          vehicleId: session.vehicleId,
          allocatedKw: session.allocatedKw,
          minKw: session.minKw,
          maxKw: session.maxKw,
          startedAt: session.startedAt,
          expectedEndAt: session.expectedEndAt,
          durationS: session.durationS,
          energyKwh: session.energyKwh,
          tries,
          replayed,
          sessionSecret: sessionSecretFor(serviceToken, session.sessionId),
        };
      }),
    stopCharge: publicProcedure
      .input(sessionRefSchema)
      .mutation(({ input }) => balancer.stopSession.mutate(input).catch(relay)),
    getSession: publicProcedure
      .input(sessionRefSchema)
      .query(({ input }) => balancer.getSession.query(input).catch(relay)),
    /** Every substation's last known load, as the balancer sees it, with grid totals. */
    gridStatus: publicProcedure.query(async (): Promise<GridStatus> => {
      const members = await balancer.listSubstations.query().catch(relay);
      // The public view: ids, health and load. Addresses, error texts and failure counts stay internal.
      const substations = members.map(({ substationId, healthy, load }) => ({ substationId, healthy, load }));
      const sum = (pick: (l: NonNullable<(typeof substations)[number]["load"]>) => number) =>
        substations.reduce((acc, s) => acc + (s.healthy && s.load ? pick(s.load) : 0), 0);
      return {
        substations,
        totals: {
          substations: substations.length,
          healthy: substations.filter((s) => s.healthy).length,
          effectiveCapacityKw: sum((l) => l.effectiveCapacityKw),
          allocatedKw: sum((l) => l.allocatedKw),
          committedMinKw: sum((l) => l.committedMinKw),
          activeSessions: sum((l) => l.activeSessions),
        },
      };
    }),
  });
}

export type ChargeApiRouter = ReturnType<typeof chargeApiRouter>;
