/**
 * Bookings are claimed by proof (issue 17, finding 3): requestCharge tells the owner an idTag derived from the
 * session under the service token, and the grid finds the booking from that idTag alone (each substation keeps
 * an index of its active sessions' tags, filled again after a restart). A vehicle id finds nothing.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { bookingIdTagSchema, errorDataOf } from "@evgrid/contract";
import { idTagFor } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { startSubstation } from "@evgrid/substation/app";
import { readEnv } from "@evgrid/substation/env";
import { startGrid, tempDir } from "@evgrid/testing";

describe("booking idTags", () => {
  test("only the owner is told the idTag; it finds the booking until the booking ends", async () => {
    await using grid = await startGrid({ capacitiesKw: [50, 50] });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-1", durationS: 600 });
    expect(bookingIdTagSchema.safeParse(grant.idTag).success).toBe(true);
    const ref = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
    expect((await grid.client.getSession.query(ref)).idTag).toBe(grant.idTag);

    const found = await grid.operator.findBooking.query({ idTag: grant.idTag });
    expect(found).toMatchObject({ sessionId: grant.sessionId, vehicleId: "ev-1", status: "active" });
    // Another booking's tag, and a well-formed tag nobody was given, claim nothing.
    const other = await grid.client.requestCharge.mutate({ vehicleId: "ev-2", durationS: 600 });
    expect(other.idTag).not.toBe(grant.idTag);
    expect((await grid.operator.findBooking.query({ idTag: other.idTag }))?.vehicleId).toBe("ev-2");
    expect(await grid.operator.findBooking.query({ idTag: "A".repeat(20) })).toBeNull();

    await grid.client.stopCharge.mutate(ref);
    expect(await grid.operator.findBooking.query({ idTag: grant.idTag })).toBeNull();
  });

  test("a vehicle id is no idTag: the lookup refuses it as input", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await grid.client.requestCharge.mutate({ vehicleId: "ev-1", durationS: 600 });
    await expect(grid.operator.findBooking.query({ idTag: "ev-1" })).rejects.toThrow(/idTag/);
  });

  test("walk-ins' vehicle ids are kept apart: the public API refuses to book one", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    const refused = await grid.client.requestCharge.mutate({ vehicleId: "ocpp:CARD-1" }).catch(errorDataOf);
    expect(refused).toMatchObject({ httpStatus: 400, reason: "INVALID_INPUT" });
    expect(JSON.stringify(refused)).toContain("vehicleId");
    // Nor may a caller's own key take the gateway's form: the gateway's admission of a booking moved to
    // another substation's charger, in the same owner's key space, would be answered as a replay of it.
    const keyed = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-key", durationS: 60, idempotencyKey: "ocpp:CP-1:42" })
      .catch(errorDataOf);
    expect(keyed).toMatchObject({ httpStatus: 400, reason: "INVALID_INPUT" });
    expect(JSON.stringify(keyed)).toContain("idempotencyKey");
  });

  test("a restarted substation finds its resumed bookings by their idTags again", async () => {
    using dir = tempDir("evgrid-bookings-");
    const token = "bookings-test-service-token-0123456789";
    const env = readEnv({
      PORT: "0",
      LOG_QUIET: "true",
      SERVICE_TOKEN: token,
      SUBSTATION_CAPACITY_KW: "50",
      SUBSTATION_DB_PATH: join(dir.path, "substation.sqlite"),
    });
    let sessionId: string;
    const sub = await startSubstation(env);
    try {
      const client = internalClient<SubstationRouter>(sub.url, { token, timeoutMs: 10_000 });
      ({ sessionId } = (await client.startSession.mutate({ vehicleId: "ev-1", durationS: 600 })).session);
    } finally {
      await sub.stop();
    }
    const again = await startSubstation(env);
    try {
      const client = internalClient<SubstationRouter>(again.url, { token, timeoutMs: 10_000 });
      const found = await client.findBooking.query({ idTag: idTagFor(token, sessionId) });
      expect(found).toMatchObject({ sessionId, status: "active" });
    } finally {
      await again.stop();
    }
  });
});
