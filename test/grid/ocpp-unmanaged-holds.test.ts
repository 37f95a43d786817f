/**
 * A charger that takes no limits may draw its charge point's maximum, whatever its sessions asked for: at
 * its substation they hold that much together, above a session's own maximum if need be. Found by a
 * hostile-charger probe: a booking for 11 kW at a 22 kW charger that refused limits was held at 11, the
 * others were given the rest, and the gateway counted 41 kW on a 30 kW site.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe.each(["Rejected", "NotImplemented"] as const)("a charger answering %s", (answer) => {
  test("holds its charge point's maximum for a booking below it: the others get what is left", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid);
    const honest = await ocpp.charger("cp-honest-held", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-held");
    await eventually(() => expect(honest.limit(1)).toBe(22_000));

    const booking = await grid.client.requestCharge.mutate({ vehicleId: "ev-booked-held", durationS: 600 });
    expect(booking.maxKw).toBe(11);
    const refuser = await ocpp.charger("cp-refuser", { maxKw: 22, behaviour: { profileAnswer: answer } });
    await refuser.startTransaction(1, booking.idTag);
    await ocpp.txSession("cp-refuser");
    // 30 kW: 22 for what the refusing charger may draw, 8 for the honest one.
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    const held = await grid.client.getSession.query({
      sessionId: booking.sessionId,
      sessionSecret: booking.sessionSecret,
    });
    expect({ status: held.status, allocatedKw: held.allocatedKw }).toEqual({
      status: "active",
      allocatedKw: 22,
    });
    expect(refuser.stopsAsked).toHaveLength(0);

    // Its transaction ends: the honest one gets the site again.
    await refuser.stopTransaction(1);
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
  });
});
