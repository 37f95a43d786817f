import {
  chargeRequestSchema,
  reasons,
  registrationSchema,
  sessionRefSchema,
  substationOfSession,
} from "@evgrid/contract";
import { GridError, internalProcedure, relayUpstreamError, router } from "@evgrid/kit";
import { type DispatchOptions, dispatch } from "./dispatcher.ts";
import type { GridView, Member } from "./view.ts";

/** Every procedure is internal: charge-api and operators call them with the service token. */
export function balancerRouter(view: GridView, options: DispatchOptions) {
  /** A session id names its substation, so stop/get need no shared database. */
  const ownerOf = (sessionId: string): Member => {
    const substationId = substationOfSession(sessionId);
    const member = view.byId(substationId);
    if (!member) {
      throw new GridError(
        "NOT_FOUND",
        reasons.UNKNOWN_SUBSTATION,
        `no substation ${substationId} in this grid`,
      );
    }
    return member;
  };
  return router({
    dispatch: internalProcedure
      .input(chargeRequestSchema)
      .mutation(({ input }) => dispatch(view, input, options)),
    listSubstations: internalProcedure.query(() => view.status()),
    /** A substation joins (and heartbeats by calling this again); internal, like everything here. */
    register: internalProcedure.input(registrationSchema).mutation(async ({ input }) => {
      const member = await view.register(input.url);
      return {
        url: member.url,
        substationId: member.id,
        healthy: member.healthy,
        lastError: member.lastError,
      };
    }),
    /** A substation leaves on a graceful shutdown. */
    deregister: internalProcedure
      .input(registrationSchema)
      .mutation(({ input }) => ({ removed: view.deregister(input.url) })),
    getSession: internalProcedure.input(sessionRefSchema).query(async ({ input }) => {
      const member = ownerOf(input.sessionId);
      return member.client.getSession.query(input).catch((err: unknown) => {
        throw relayUpstreamError(err, member.id ?? member.url);
      });
    }),
    stopSession: internalProcedure.input(sessionRefSchema).mutation(async ({ input }) => {
      const member = ownerOf(input.sessionId);
      try {
        const { session, load } = await member.client.stopSession.mutate(input);
        view.record(member, load);
        options.memory?.forgetVehicle(session.vehicleId);
        return session;
      } catch (err) {
        throw relayUpstreamError(err, member.id ?? member.url);
      }
    }),
  });
}

export type BalancerRouter = ReturnType<typeof balancerRouter>;
