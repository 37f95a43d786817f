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
