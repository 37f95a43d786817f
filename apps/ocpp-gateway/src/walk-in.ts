import {
  type dispatchRequestSchema,
  reasons,
  type Session,
  WALK_IN_VEHICLE_PREFIX,
  walkInVehicleId,
} from "@evgrid/contract";
import type { z } from "zod";
import type { Tx } from "./model.ts";

/** What the gateway asks the grid for a transaction (a dispatch pinned to its charger's substation). */
export type WalkIn = z.input<typeof dispatchRequestSchema>;
/** How a walk-in ends: after a time, or at an energy (maybe by a departure). */
export type WalkInEnd = { durationS: number } | { energyKwh: number; departAt?: string };
/**
 * Who a walk-in is admitted as, and how its session ends. `booking`: a booking claimed at another
 * substation's charger, which the session goes on with (its owner follows it through the public API).
 */
export type WalkInAs = { vehicleId: string; end: WalkInEnd; booking?: ClaimedBooking };
/** A booking claimed at another substation's charger, as it goes on here (and as the registry keeps it). */
export type Claim = WalkInAs & { booking: ClaimedBooking };
/** What a claimed booking hands on to the session that goes on with it, read from the booking the grid found. */
export interface ClaimedBooking {
  owner: string;
  /** The booking's session: the one here takes an id derived from it, by which its owner finds it. */
  sessionId: string;
}

/** Admission answers that mean "no power now": the transaction waits with a 0 W profile. */
export const WAIT_REASONS: ReadonlySet<string> = new Set([
  reasons.GRID_FULL,
  reasons.INSUFFICIENT_CAPACITY,
  reasons.OPERATOR_LIMIT,
  reasons.WAIT_QUEUE_FULL,
  reasons.DEADLINE_EXCEEDED,
  reasons.SUBSTATION_DRAINING,
]);
/**
 * Admission answers that mean "never here": the transaction is stopped. BOOKING_ALREADY_MOVED: the booking
 * it claimed goes on in another session here already.
 */
export const NEVER_REASONS: ReadonlySet<string> = new Set([
  reasons.EXCEEDS_SITE_CAPACITY,
  reasons.INVALID_INPUT,
  reasons.BOOKING_ALREADY_MOVED,
]);

/**
 * One transaction, one key: an answer lost with a replica may be asked of another without a second session.
 * Under the prefix the public API refuses for keys, so no caller's own key can be one.
 */
export const walkInKey = (tx: Tx) => `${WALK_IN_VEHICLE_PREFIX}${tx.chargePointId}:${tx.transactionId}`;

/**
 * How a walk-in ends: one admitted for a booking claimed at another substation's charger with the energy
 * the booking has still to deliver, by its departure while that is at least a second ahead; any other
 * (no booking, or a timed one) after `maxS`.
 *
 * Still to deliver is the booking's energy less what a charger's meter reported for it, not less its
 * deliveredKwh: until a meter reports, that is what the booking's allocation integrates to while no car may
 * be plugged in anywhere, energy no car got. At its own substation the meter replaces that estimate (the
 * car gets the whole booking); claimed elsewhere it is owed the same.
 */
export function walkInEnd(booking: Session | undefined, maxS: number, nowMs: number): WalkInEnd {
  if (booking?.energyKwh == null) return { durationS: maxS };
  const energyKwh = Math.max(0.001, booking.energyKwh - (booking.meteredKwh ?? 0));
  const departAt = booking.departAt ?? undefined;
  return departAt !== undefined && Date.parse(departAt) - nowMs >= 1000
    ? { energyKwh, departAt }
    : { energyKwh };
}

/**
 * A booking claimed at another substation's charger: admitted there for its booked vehicle, with what it has
 * left, and still its owner's. The owner is the booking's as the grid answered the lookup (the substation's
 * record of who made it), never anything the charger said: a charger can only hand a session to the owner
 * whose idTag it was shown.
 */
export function claimedAs(booking: Session, maxS: number, nowMs: number): Claim {
  return {
    vehicleId: booking.vehicleId,
    end: walkInEnd(booking, maxS, nowMs),
    booking: { owner: booking.owner, sessionId: booking.sessionId },
  };
}

/** Any idTag that claims no booking: a walk-in of its own (`ocpp:<idTag>`), the operator's, after `maxS`. */
export const ownWalkIn = (idTag: string, maxS: number): WalkInAs => ({
  vehicleId: walkInVehicleId(idTag),
  end: { durationS: maxS },
});

/**
 * The dispatch for a walk-in: the charge point's maximum (capped at its share of it), a minimum of at most
 * `minKw`, pinned to the charger's substation, under the transaction's key; the operator's unless it goes on
 * with a claimed booking.
 */
export function walkInRequest(
  tx: Tx,
  { vehicleId, end, booking }: WalkInAs,
  power: { maxKw: number; shareKw: number; minKw: number },
  waitS: number | undefined,
): WalkIn {
  const { maxKw, shareKw } = power;
  return {
    vehicleId,
    maxKw,
    ...(shareKw < maxKw ? { capKw: shareKw } : {}),
    minKw: Math.min(maxKw, power.minKw),
    ...end,
    substationId: tx.substationId,
    idempotencyKey: walkInKey(tx),
    ...(waitS === undefined ? {} : { waitS }),
    ...(booking ? { owner: booking.owner, movedFrom: booking.sessionId } : {}),
  };
}
