import { dispatchRequestSchema, registrationSchema, sessionAccessSchema } from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";
import type { Dispatcher } from "./dispatcher.ts";

/** Every procedure is internal: charge-api and operators call them with the service token. */
export function balancerRouter(dispatcher: Dispatcher) {
  const { view } = dispatcher;
  return router({
    /** A session for this request, or (with waitS) once power frees up; a caller that hangs up leaves the queue. */
    dispatch: internalProcedure
      .input(dispatchRequestSchema)
      .mutation(({ input, signal }) => dispatcher.request(input, signal)),
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
    /** With `owner`, only that owner's session; without (operators), any. */
    getSession: internalProcedure
      .input(sessionAccessSchema)
      .query(({ input }) => dispatcher.getSession(input)),
    stopSession: internalProcedure
      .input(sessionAccessSchema)
      .mutation(({ input }) => dispatcher.stopSession(input)),
  });
}

export type BalancerRouter = ReturnType<typeof balancerRouter>;
