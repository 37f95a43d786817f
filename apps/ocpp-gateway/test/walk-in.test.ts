import { describe, expect, test } from "bun:test";
import { dispatchRequestSchema, type Session } from "@evgrid/contract";
import type { Tx } from "../src/model.ts";
import { claimedAs, walkInEnd, walkInRequest } from "../src/walk-in.ts";

const NOW_MS = Date.parse("2026-01-01T10:00:00.000Z");
const booking = (o: Partial<Session>): Session => ({
  sessionId: "substation-2.0123456789abcdef0123456789abcdef",
  substationId: "substation-2",
  vehicleId: "ev",
  minKw: 4.2,
  maxKw: 22,
  capKw: null,
  allocatedKw: 22,
  status: "active",
  startedAt: "2026-01-01T09:00:00.000Z",
  durationS: null,
  energyKwh: 20,
  deliveredKwh: 0,
  expectedEndAt: null,
  endedAt: null,
  endReason: null,
  idempotencyKey: null,
  owner: "key:0123456789abcdef",
  priority: "standard",
  ...o,
});

describe("how a booking claimed at another substation's charger ends there", () => {
  test("its whole energy, when what it has delivered is only its allocation's estimate (no meter)", () => {
    // An hour booked at 22 kW with no car: 22 kWh by the integral, none of it in a car.
    expect(walkInEnd(booking({ deliveredKwh: 20 }), 86_400, NOW_MS)).toEqual({ energyKwh: 20 });
  });

  test("its energy less what a charger's meter reported for it", () => {
    const metered = booking({ deliveredKwh: 5, meteredKwh: 5 });
    expect(walkInEnd(metered, 86_400, NOW_MS)).toEqual({ energyKwh: 15 });
  });

  test("by its departure while that is a second ahead or more; a timed booking or none after the maximum", () => {
    const departAt = "2026-01-01T12:00:00.000Z";
    expect(walkInEnd(booking({ departAt }), 86_400, NOW_MS)).toEqual({ energyKwh: 20, departAt });
    const gone = booking({ departAt: "2026-01-01T10:00:00.500Z" });
    expect(walkInEnd(gone, 86_400, NOW_MS)).toEqual({ energyKwh: 20 });
    expect(walkInEnd(booking({ energyKwh: null, durationS: 600 }), 86_400, NOW_MS)).toEqual({
      durationS: 86_400,
    });
    expect(walkInEnd(undefined, 86_400, NOW_MS)).toEqual({ durationS: 86_400 });
  });
});

describe("what a walk-in is admitted as", () => {
  const tx = { chargePointId: "cp-1", transactionId: "7", substationId: "substation-1" } as Tx;
  const power = { maxKw: 22, shareKw: 22, minKw: 4.2 };

  test("a claimed booking's session is its owner's, as the grid's record of the booking says", () => {
    const as = claimedAs(booking({ vehicleId: "ev-owner" }), 86_400, NOW_MS);
    const request = dispatchRequestSchema.parse(walkInRequest(tx, as, power, undefined));
    expect(request).toMatchObject({
      vehicleId: "ev-owner",
      owner: "key:0123456789abcdef",
      movedFrom: "substation-2.0123456789abcdef0123456789abcdef",
      energyKwh: 20,
      substationId: "substation-1",
      idempotencyKey: "ocpp:cp-1:7",
    });
  });

  test("any other walk-in is the operator's", () => {
    const as = { vehicleId: "ocpp:TAG", end: { durationS: 600 } };
    const request = dispatchRequestSchema.parse(walkInRequest(tx, as, { ...power, shareKw: 11 }, 300));
    expect(request).toMatchObject({ owner: "operator", capKw: 11, waitS: 300, durationS: 600 });
  });
});
