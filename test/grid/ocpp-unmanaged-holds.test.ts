/**
 * A charger that takes no limits may draw its charge point's maximum, whatever its sessions asked for: at
 * its substation they hold that much together, above a session's own maximum if need be. Found by a
 * hostile-charger probe: a booking for 11 kW at a 22 kW charger that refused limits was held at 11, the
 * others were given the rest, and the gateway counted 41 kW on a 30 kW site.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually, type SimulatedChargePoint, startGrid, startOcppGateway } from "@evgrid/testing";

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

/** A 2.0.1 TransactionEvent Started with no idToken: a transaction not yet for anyone (no session). */
let seqNo = 1000;
const startUnidentified = (cp: SimulatedChargePoint, evseId: number, transactionId: string) =>
  cp.client.call("TransactionEvent", {
    eventType: "Started",
    timestamp: new Date().toISOString(),
    triggerReason: "CablePluggedIn",
    seqNo: seqNo++,
    transactionInfo: { transactionId, chargingState: "EVConnected" },
    evse: { id: evseId, connectorId: 1 },
  });

describe("a transaction with no session yet (2.0.1, no idToken)", () => {
  test("at a charger that refuses limits is stopped: nothing at its substation would hold what it may draw", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(16);
    await using ocpp = await startOcppGateway(grid);
    const honest = await ocpp.charger("cp-honest-u", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-u");
    await eventually(() => expect(honest.limit(1)).toBe(16_000));
    const refuser = await ocpp.charger("cp-refuser-u", {
      protocol: "ocpp2.0.1",
      maxKw: 11,
      behaviour: { profileAnswer: "Rejected" },
    });
    await startUnidentified(refuser, 1, "u-refused");
    await eventually(() => expect(refuser.stopsAsked).toEqual(["u-refused"]));
  });

  test("at a charger that stops taking limits is stopped then, the one with a session kept", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-turns", { protocol: "ocpp2.0.1", maxKw: 22 });
    const session = await cp.startTransaction(1, "ev-turns");
    await startUnidentified(cp, 2, "u-turns");
    grid.substations[0]?.station.setLimit(8);
    await eventually(() => expect(cp.limit(1)).toBe(8000));
    // It refuses from now on; a new level makes the gateway send it a limit, which it refuses. Pinned at its
    // 22 kW, its session still fits in 30.
    cp.opts.profileAnswer = "Rejected";
    grid.substations[0]?.station.setLimit(30);
    await eventually(() => expect(cp.stopsAsked).toEqual(["u-turns"]));
    const vehicleId = walkInVehicleId("ev-turns");
    await eventually(async () =>
      expect((await grid.operator.findVehicleSession.query({ vehicleId }))?.allocatedKw).toBe(22),
    );
    expect(cp.stopsAsked).not.toContain(session);
  });
});
