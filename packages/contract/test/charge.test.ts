import { describe, expect, test } from "bun:test";
import {
  chargeRequestSchema,
  dispatchRequestSchema,
  sessionIdSchema,
  substationOfSession,
} from "../src/index.ts";

describe("chargeRequestSchema", () => {
  test("defaults reproduce the original system: 11 kW, 4.2 kW minimum, 5 s", () => {
    expect(chargeRequestSchema.parse({ vehicleId: "ev-1" })).toEqual({
      vehicleId: "ev-1",
      maxKw: 11,
      minKw: 4.2,
      durationS: 5,
    });
  });

  test("a small charger's minimum defaults to its maximum", () => {
    expect(chargeRequestSchema.parse({ vehicleId: "ev", maxKw: 3.7 }).minKw).toBe(3.7);
  });

  test("an energy-based session has no duration", () => {
    expect(chargeRequestSchema.parse({ vehicleId: "ev", energyKwh: 20 })).toEqual({
      vehicleId: "ev",
      maxKw: 11,
      minKw: 4.2,
      energyKwh: 20,
    });
  });

  test("parsing is idempotent, so the balancer and substation can re-validate what charge-api forwards", () => {
    const once = chargeRequestSchema.parse({ vehicleId: "ev", maxKw: 22, energyKwh: 10 });
    expect(chargeRequestSchema.parse(once)).toEqual(once);
  });

  test.each([
    [{ vehicleId: "ev", maxKw: Number.NaN }, "maxKw"],
    [{ vehicleId: "ev", maxKw: Number.POSITIVE_INFINITY }, "maxKw"],
    [{ vehicleId: "ev", minKw: 0 }, "minKw"],
    [{ vehicleId: "ev", durationS: 0 }, "durationS"],
    [{ vehicleId: "ev\u202e1" }, "vehicleId"],
    [{ vehicleId: "" }, "vehicleId"],
  ])("refuses %j on %s", (input, field) => {
    const result = chargeRequestSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path[0])).toContain(field);
  });
});

describe("dispatchRequestSchema", () => {
  test("names the booking a session goes on with (the OCPP gateway's); the public request may not", () => {
    const movedFrom = `substation-2.${"a".repeat(32)}`;
    expect(dispatchRequestSchema.parse({ vehicleId: "ev", movedFrom }).movedFrom).toBe(movedFrom);
    expect(dispatchRequestSchema.safeParse({ vehicleId: "ev", movedFrom: "substation-2" }).success).toBe(
      false,
    );
    expect(chargeRequestSchema.safeParse({ vehicleId: "ev", movedFrom }).success).toBe(false);
  });
});

describe("session ids", () => {
  test("name their substation", () => {
    const id = `substation-12.${"f".repeat(32)}`;
    expect(sessionIdSchema.parse(id)).toBe(id);
    expect(substationOfSession(id)).toBe("substation-12");
  });

  test("refuse anything else", () => {
    for (const bad of [
      "",
      "substation-1",
      `Sub.${"f".repeat(32)}`,
      `s.${"g".repeat(32)}`,
      `a/b.${"f".repeat(32)}`,
    ]) {
      expect(sessionIdSchema.safeParse(bad).success).toBe(false);
    }
  });
});
