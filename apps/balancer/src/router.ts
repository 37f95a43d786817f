import {
  dispatchRequestSchema,
  findBookingInputSchema,
  findMovedSessionInputSchema,
  sessionAccessSchema,
  stopMovedSessionInputSchema,
  stopSessionInputSchema,
  vehicleIdSchema,
} from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";
import { membershipProcedures } from "@evgrid/membership";
import { z } from "zod";
import { findBooking, findMovedSession } from "./bookings.ts";
import type { Dispatcher } from "./dispatcher.ts";

/** Every procedure is internal: charge-api and operators call them with the service token. */
export function balancerRouter(dispatcher: Dispatcher) {
  const { view } = dispatcher;
  return router({
    /**
     * A session for this request, or (with waitS) once power frees up; a caller that hangs up leaves the queue.
     * Only a request that may wait reads the call's signal: on a link, the others cost no AbortController.
     */
    dispatch: internalProcedure
      .input(dispatchRequestSchema)
      .mutation((call) =>
        dispatcher.request(
          call.input,
          call.input.waitS === undefined ? undefined : call.signal,
          call.ctx.deadlineAtMs ?? null,
        ),
      ),
    listSubstations: internalProcedure.query(() => view.status()),
    /**
     * Whether this replica shares state with the others right now (REDIS_URL set and reachable): only then may
     * the charge-api retry an uncertain dispatch on another replica under the same idempotency key.
     */
    stateInfo: internalProcedure.query(() => ({
      shared: dispatcher.store.shared,
      storeUp: dispatcher.store.up,
      /** The store forgot and this replica is rebuilding it from the substations (STATE_REBUILDING). */
      storeRebuilding: dispatcher.store.rebuilding,
      /** The store is silent: a vehicle no substation holds goes to its hashed home (after a lease). */
      storeHashing: dispatcher.store.hashing,
      /** The store's maxmemory-policy may evict keys: not trusted (placed as when it cannot vouch). */
      storeEvicting: dispatcher.store.evicting,
    })),
    /** register and deregister: substations join and leave (packages/membership). */
    ...membershipProcedures(view),
    /** With `owner`, only that owner's session; without (operators), any. */
    getSession: internalProcedure
      .input(sessionAccessSchema)
      .query(({ input }) => dispatcher.getSession(input)),
    stopSession: internalProcedure
      .input(stopSessionInputSchema)
      .mutation(({ input }) => dispatcher.stopSession(input)),
    /** A vehicle's active session anywhere, or null (operators; never what binds a charger: see findBooking). */
    findVehicleSession: internalProcedure
      .input(z.strictObject({ vehicleId: vehicleIdSchema }))
      .query(({ input }) => dispatcher.findVehicleSession(input.vehicleId)),
    /** The active booking an idTag claims, anywhere, or null (the OCPP gateway, when a charger presents one). */
    findBooking: internalProcedure
      .input(findBookingInputSchema)
      .query(({ input }) => findBooking(view, input.idTag)),
    /**
     * The session a booking claimed at a charger of another substation goes on in, or null (the public
     * getSession's movedTo). With `owner`, only that owner's; with `movedToSubstationId` (the booking's end
     * names it), only that substation is asked.
     */
    findMovedSession: internalProcedure
      .input(findMovedSessionInputSchema)
      .query(({ input }) => findMovedSession(view, input)),
    /**
     * A booking that ended `moved`, stopped by its owner (the public stopCharge): where it went, the session it
     * goes on in is stopped, or, not admitted yet, never will be. null: a move recorded without its
     * destination, not found admitted anywhere.
     */
    stopMovedSession: internalProcedure
      .input(stopMovedSessionInputSchema)
      .mutation(({ input }) => dispatcher.stopMovedSession(input)),
    /** One session's power, energy and end as they change (the public watchSession). */
    watchSession: internalProcedure
      .input(sessionAccessSchema)
      .subscription(({ input, signal }) => dispatcher.watchSession(input, signal)),
  });
}

export type BalancerRouter = ReturnType<typeof balancerRouter>;
