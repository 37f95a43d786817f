import { chargeRequestSchema, sessionRefSchema } from "@evgrid/contract";
import { gatedPublicProcedure, router } from "@evgrid/kit";
import type { ChargeDesk } from "./desk.ts";

/** The public API: validates input and delegates to the desk, which owns every admission rule and count. */
export function chargeApiRouter(desk: ChargeDesk) {
  // Every call is counted against its caller's rate, one by one, batched or not, before its input is read.
  const limited = gatedPublicProcedure((caller) => desk.countCall(caller));
  return router({
    /** Starts a charging session on the substation with the most headroom, or says why none can. */
    requestCharge: limited
      .input(chargeRequestSchema)
      .mutation(({ input, ctx, signal }) => desk.requestCharge(ctx.caller, input, signal, ctx.deadlineAtMs)),
    stopCharge: limited
      .input(sessionRefSchema)
      .mutation(({ input, ctx }) => desk.stopCharge(ctx.caller, input)),
    getSession: limited.input(sessionRefSchema).query(({ input, ctx }) => desk.getSession(ctx.caller, input)),
    /**
     * A session's power, energy and end as they change (SSE: tRPC's httpSubscriptionLink), until it ends or
     * the caller goes. Only its owner (API key, or the sessionSecret in open mode) or an operator may watch.
     */
    watchSession: limited
      .input(sessionRefSchema)
      .subscription(({ input, ctx, signal }) => desk.watchSession(ctx.caller, input, signal)),
    /** Every substation's last known load, as the balancer sees it, with grid totals. */
    gridStatus: limited.query(() => desk.gridStatus()),
  });
}

export type ChargeApiRouter = ReturnType<typeof chargeApiRouter>;
