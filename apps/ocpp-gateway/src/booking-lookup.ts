import { bookingIdTagSchema, type Session } from "@evgrid/contract";
import type { Grid } from "./grid.ts";

/**
 * The active booking an idTag claims, or null. Only a booking's shape (20 of A-Z 2-7, in any letter case: OCPP
 * compares idTags ignoring case) is looked up; any other idTag is a walk-in without a round trip.
 */
export function findBooking(grid: Grid, idTag: string): Promise<Session | null> {
  const tag = idTag.toUpperCase();
  if (!bookingIdTagSchema.safeParse(tag).success) return Promise.resolve(null);
  return grid.balancers.call((b) => b.findBooking.query({ idTag: tag }));
}

/** How a walk-in ends: after a time, or at an energy (maybe by a departure). */
export type WalkInEnd = { durationS: number } | { energyKwh: number; departAt?: string };
/** Who a walk-in is admitted as, and how its session ends. */
export type WalkInAs = { vehicleId: string; end: WalkInEnd };

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
