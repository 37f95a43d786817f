import {
  chargeRequestSchema,
  listSessionsInputSchema,
  sessionRefSchema,
  setLimitInputSchema,
} from "@evgrid/contract";
import { publicProcedure, router } from "@evgrid/kit";
import type { Station } from "./station.ts";

export function substationRouter(station: Station) {
  return router({
    /** The load the balancer ranks by: one O(1) snapshot, no per-session walk. */
    getLoad: publicProcedure.query(() => station.load()),
    /** Admits atomically or refuses with INSUFFICIENT_CAPACITY / OPERATOR_LIMIT and the current load. */
    startSession: publicProcedure.input(chargeRequestSchema).mutation(({ input }) => station.start(input)),
    stopSession: publicProcedure
      .input(sessionRefSchema)
      .mutation(({ input }) => station.stop(input.sessionId)),
    getSession: publicProcedure.input(sessionRefSchema).query(({ input }) => station.get(input.sessionId)),
    listSessions: publicProcedure
      .input(listSessionsInputSchema)
      .query(({ input }) => ({ sessions: station.list(input.status, input.limit), load: station.load() })),
    /** Operator (demand-response) limit; null lifts it. May curtail the newest sessions. */
    setLimit: publicProcedure
      .input(setLimitInputSchema)
      .mutation(({ input }) => station.setLimit(input.limitKw)),
  });
}

export type SubstationRouter = ReturnType<typeof substationRouter>;
