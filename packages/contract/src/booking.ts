import { z } from "zod";

/**
 * A booking's idTag: what its owner presents at a charger (OCPP 1.6 idTag, 2.0.1 idToken) to claim it there.
 * requestCharge returns it to the session's owner only; it is derived from the session id under the grid's
 * service token (packages/kit token.ts), 20 characters of base32 (CiString20, 100 bits). A vehicle id alone
 * never claims a booking: anyone may know one.
 */
export const bookingIdTagSchema = z
  .string()
  .regex(/^[A-Z2-7]{20}$/, "idTag is 20 of A-Z and 2-7, as requestCharge returned it");

/** Finds the active booking an idTag claims (the OCPP gateway, when a charger presents one). */
export const findBookingInputSchema = z.strictObject({ idTag: bookingIdTagSchema });
