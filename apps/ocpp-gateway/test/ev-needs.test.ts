/** A 2.0.1 car's NotifyEVChargingNeeds in the gateway's terms (ev-needs.ts): its maximum, energy and departure. */
import { describe, expect, test } from "bun:test";
import { evNeedsOf } from "../src/ocpp/ev-needs.ts";
import type * as M from "../src/ocpp/v201-types.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const ac = (
  requestedEnergyTransfer: M.EnergyTransferModeEnumType,
  evMaxCurrent: number,
  evMaxVoltage: number,
): M.NotifyEVChargingNeedsRequest => ({
  evseId: 1,
  chargingNeeds: {
    requestedEnergyTransfer,
    acChargingParameters: { energyAmount: 10_000, evMinCurrent: 6, evMaxCurrent, evMaxVoltage },
  },
});

describe("the car's maximum from its AC parameters", () => {
  test("the current is per phase, on the phases its transfer mode names", () => {
    // 16 A at 230 V: 3.68 kW on one phase, 7.36 on two, 11.04 on three.
    expect(evNeedsOf(ac("AC_single_phase", 16, 230), NOW).maxKw).toBeCloseTo(3.68, 9);
    expect(evNeedsOf(ac("AC_two_phase", 16, 230), NOW).maxKw).toBeCloseTo(7.36, 9);
    expect(evNeedsOf(ac("AC_three_phase", 16, 230), NOW).maxKw).toBeCloseTo(11.04, 9);
  });

  test("a voltage that reads like a line voltage is √3 times the phase voltage", () => {
    expect(evNeedsOf(ac("AC_three_phase", 16, 400), NOW).maxKw).toBeCloseTo(
      (3 * 16 * 400) / Math.sqrt(3) / 1000,
      9,
    );
    expect(evNeedsOf(ac("AC_single_phase", 16, 400), NOW).maxKw).toBeCloseTo(
      (16 * 400) / Math.sqrt(3) / 1000,
      9,
    );
  });

  test("a negative current or voltage is no maximum, not even two of them", () => {
    expect(evNeedsOf(ac("AC_three_phase", -32, -230), NOW).maxKw).toBeUndefined();
    expect(evNeedsOf(ac("AC_three_phase", 32, -230), NOW).maxKw).toBeUndefined();
    const dc: M.NotifyEVChargingNeedsRequest = {
      evseId: 1,
      chargingNeeds: {
        requestedEnergyTransfer: "DC",
        dcChargingParameters: { evMaxCurrent: -100, evMaxVoltage: -400 },
      },
    };
    expect(evNeedsOf(dc, NOW).maxKw).toBeUndefined();
  });
});

describe("the car's departure", () => {
  const leaving = (departureTime: string): M.NotifyEVChargingNeedsRequest => ({
    evseId: 1,
    chargingNeeds: { requestedEnergyTransfer: "DC", departureTime },
  });

  test("a time with its zone is taken, in that zone; one without is no moment and is left out", () => {
    expect(evNeedsOf(leaving("2026-12-04T14:00:00Z"), NOW).departAtMs).toBe(
      Date.parse("2026-12-04T14:00:00Z"),
    );
    expect(evNeedsOf(leaving("2026-12-04T15:00:00+01:00"), NOW).departAtMs).toBe(
      Date.parse("2026-12-04T14:00:00Z"),
    );
    // Read in the gateway's own zone it would be off by that zone's offset: a car's word is not guessed at.
    expect(evNeedsOf(leaving("2026-12-04T14:00:00"), NOW).departAtMs).toBeUndefined();
  });
});
