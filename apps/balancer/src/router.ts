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
import { WaitQueue } from "./wait-queue.ts";

/** Every procedure is internal: charge-api and operators call them with the service token. */
export function balancerRouter(view: GridView, options: DispatchOptions) {
  // Requests that will wait for capacity (waitS), served in arrival order as power frees up.
  const waiting = new WaitQueue(
    (req) => view.best(req) !== undefined,
    (req) => dispatch(view, req, options),
  );
  view.onRefreshed = () => void waiting.pump();
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
    dispatch: internalProcedure.input(chargeRequestSchema).mutation(async ({ input }) => {
      // Earlier waiters go first: a new waiting request takes its place at the back.
      if (input.waitS !== undefined && waiting.length > 0) return waiting.wait(input);
      try {
        return await dispatch(view, input, options);
      } catch (err) {
        if (input.waitS !== undefined && err instanceof GridError && err.reason === reasons.GRID_FULL) {
          return waiting.wait(input);
        }
        throw err;
      }
    }),
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
        void waiting.pump();
        return session;
      } catch (err) {
        throw relayUpstreamError(err, member.id ?? member.url);
      }
    }),
  });
}

export type BalancerRouter = ReturnType<typeof balancerRouter>;
