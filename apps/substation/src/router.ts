import {
  dispatchRequestSchema,
  findBookingInputSchema,
  idempotencyKeySchema,
  listSessionsInputSchema,
  meterReadingInputSchema,
  ownerSchema,
  sessionAccessSchema,
  setDrainingInputSchema,
  setDrawHoldInputSchema,
  setLimitInputSchema,
  setSessionCapInputSchema,
  setSessionNeedsInputSchema,
  stopMovedInputSchema,
  stopSessionInputSchema,
  vehicleIdSchema,
} from "@evgrid/contract";
import { internalProcedure, router } from "@evgrid/kit";
import { isPast } from "@evgrid/link";
import { z } from "zod";
import type { BookingIndex } from "./bookings.ts";
import type { Station } from "./station.ts";

/**
 * Every procedure is internal: the balancer and operators call them with the service token. `linkGroup`:
 * the group of sites of this process whose links carry this one's calls (link-sites.ts), once it listens.
 */
export function substationRouter(
  station: Station,
  bookings: BookingIndex,
  linkGroup: () => string | null = () => null,
) {
  return router({
    /**
     * The load the balancer ranks by: one O(1) snapshot, no per-session walk; and the site's link group, so
     * a caller of many sites of one process calls them all on one link.
     */
    getLoad: internalProcedure.query(() => {
      const group = linkGroup();
      return group === null ? station.load() : { ...station.load(), linkGroup: group };
    }),
    /**
     * Admits atomically or refuses with INSUFFICIENT_CAPACITY / OPERATOR_LIMIT and the current load; past the
     * call's deadline, refuses DEADLINE_EXCEEDED (a retried key still gets its session back).
     */
    startSession: internalProcedure
      .input(dispatchRequestSchema)
      .mutation(({ input, ctx }) => station.start(input, isPast(ctx.deadlineAtMs))),
    /** With `owner`, only that owner's session (the public API passes the caller's); without, any. */
    stopSession: internalProcedure
      .input(stopSessionInputSchema)
      .mutation(({ input }) =>
        station.stop(input.sessionId, input.owner, input.reason, input.movedToSubstationId),
      ),
    /**
     * A booking that ended `moved` to here, stopped by its owner: the session it goes on in here is stopped,
     * or, not admitted yet, recorded ended before it began, so it never is (the balancer's stopMovedSession).
     */
    stopMovedSession: internalProcedure
      .input(stopMovedInputSchema)
      .mutation(({ input }) => station.stopMoved(input)),
    /** The active session of a vehicle here, or null (operators and the balancer's findVehicleSession). */
    findSession: internalProcedure
      .input(z.strictObject({ vehicleId: vehicleIdSchema }))
      .query(({ input }) => station.activeSessionOf(input.vehicleId)),
    /** The active session a booking idTag claims here, or null (the OCPP gateway, when a charger presents it). */
    findBooking: internalProcedure
      .input(findBookingInputSchema)
      .query(({ input }) => bookings.find(input.idTag)),
    /**
     * The session this owner's idempotency key started here while the key is honoured, or null: balancers
     * that cannot trust their shared store ask every substation before they send a key anywhere.
     */
    findKeySession: internalProcedure
      .input(z.strictObject({ owner: ownerSchema, idempotencyKey: idempotencyKeySchema }))
      .query(({ input }) => station.sessionOfKey(input.owner, input.idempotencyKey)),
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
    /**
     * Every re-share's water level and every end (the OCPP gateway pushes each charger's power from it).
     * Over an internal link; the first event is the current level.
     */
    watchPower: internalProcedure.subscription(({ signal }) => station.watchPower(signal)),
    /** One session's power, energy and end as they change (the public watchSession, through the balancer). */
    watchSession: internalProcedure
      .input(sessionAccessSchema)
      .subscription(({ input, signal }) => station.watchSession(input.sessionId, input.owner, signal)),
    /**
     * Reclaim (OCPP gateway): cap a session's maximum while its vehicle draws less; null lifts it. pinned: its
     * charger takes no limits, so it counts at that maximum.
     */
    setSessionCap: internalProcedure
      .input(setSessionCapInputSchema)
      .mutation(({ input }) => station.setCap(input.sessionId, input.capKw, input.pinned, input.carMaxKw)),
    /** What the car needs (OCPP gateway, NotifyEVChargingNeeds): energy by a departure. */
    setSessionNeeds: internalProcedure
      .input(setSessionNeedsInputSchema)
      .mutation(({ input }) => station.setNeeds(input)),
    /** The charger's meter (OCPP gateway): energy delivered so far; ends an energy session at its target. */
    reportMeter: internalProcedure
      .input(meterReadingInputSchema)
      .mutation(({ input }) => station.meter(input.sessionId, input.energyKwh)),
    /**
     * Power drawn at the site that no session holds (OCPP gateway: chargers drawing with no transaction open),
     * per source; 0 lifts it. Comes off the capacity and the limit for admissions and shares; curtails nobody.
     */
    setDrawHold: internalProcedure
      .input(setDrawHoldInputSchema)
      .mutation(({ input }) => station.setDrawHold(input.source, input.kw)),
    /** Operator (demand-response) limit; null lifts it. May curtail the newest sessions. */
    setLimit: internalProcedure
      .input(setLimitInputSchema)
      .mutation(({ input }) => station.setLimit(input.limitKw)),
  });
}

export type SubstationRouter = ReturnType<typeof substationRouter>;
