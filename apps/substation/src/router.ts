import {
  dispatchRequestSchema,
  listSessionsInputSchema,
  sessionAccessSchema,
  setDrainingInputSchema,
  setLimitInputSchema,
} from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";
import type { Station } from "./station.ts";

/** Every procedure is internal: the balancer and operators call them with the service token. */
export function substationRouter(station: Station) {
  return router({
    /** The load the balancer ranks by: one O(1) snapshot, no per-session walk. */
    getLoad: internalProcedure.query(() => station.load()),
    /** Admits atomically or refuses with INSUFFICIENT_CAPACITY / OPERATOR_LIMIT and the current load. */
    startSession: internalProcedure
      .input(dispatchRequestSchema)
      .mutation(({ input }) => station.start(input)),
    /** With `owner`, only that owner's session (the public API passes the caller's); without, any. */
    stopSession: internalProcedure
      .input(sessionAccessSchema)
      .mutation(({ input }) => station.stop(input.sessionId, input.owner)),
    getSession: internalProcedure
      .input(sessionAccessSchema)
      .query(({ input }) => station.get(input.sessionId, input.owner)),
    listSessions: internalProcedure
      .input(listSessionsInputSchema)
      .query(({ input }) => ({ sessions: station.list(input.status, input.limit), load: station.load() })),
    /** Operator: stop taking new sessions (existing ones run to their end), or take them again. */
    setDraining: internalProcedure
      .input(setDrainingInputSchema)
      .mutation(({ input }) => station.setDraining(input.draining)),
    /** Operator (demand-response) limit; null lifts it. May curtail the newest sessions. */
    setLimit: internalProcedure
      .input(setLimitInputSchema)
      .mutation(({ input }) => station.setLimit(input.limitKw)),
  });
}

export type SubstationRouter = ReturnType<typeof substationRouter>;
