import { dispatchRequestSchema, sessionAccessSchema } from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";
import { membershipProcedures } from "@evgrid/membership";
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
    /** register and deregister: substations join and leave (packages/membership). */
    ...membershipProcedures(view),
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
