import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { walkInEnd } from "../src/booking-lookup.ts";

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
