import { describe, expect, test } from "bun:test";
import { chargeRequestSchema } from "../src/charge.ts";

const HOUR_MS = 3_600_000;
const inH = (h: number) => new Date(Date.now() + h * HOUR_MS).toISOString();
/** The fields a refusal names. */
const fieldsOf = (input: unknown) => {
  const r = chargeRequestSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

describe("a departure in a charge request", () => {
  test("goes with an energy target and is passed on as an ISO time", () => {
    const req = chargeRequestSchema.parse({ vehicleId: "ev", energyKwh: 20, departInS: 3600 });
    expect("departAt" in req && Date.parse(req.departAt ?? "") - Date.now()).toBeGreaterThan(3590_000);
    const at = inH(2);
    expect(
      chargeRequestSchema.parse({ vehicleId: "ev", energyKwh: 20, departAt: at, strict: true }),
    ).toMatchObject({
      departAt: at,
      strict: true,
    });
  });

  test("without one, a request is what it was", () => {
    expect(chargeRequestSchema.parse({ vehicleId: "ev", energyKwh: 20 })).toEqual({
      vehicleId: "ev",
      maxKw: 11,
      minKw: 4.2,
      energyKwh: 20,
    });
  });

  test("refused, naming the field: in the past, over 7 days away, without energy, given twice, not a time", () => {
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, departAt: inH(-1) })).toEqual(["departAt"]);
    // Under a second away, as departInS's minimum of 1: nothing could charge by then.
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 1, departAt: inH(0.5 / 3600) })).toEqual(["departAt"]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 1, departAt: inH(5 / 3600) })).toEqual([]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, departAt: inH(24 * 7 + 1) })).toEqual(["departAt"]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, departInS: 7 * 86_400 + 1 })).toEqual(["departInS"]);
    expect(fieldsOf({ vehicleId: "ev", durationS: 60, departInS: 60 })).toEqual(["departInS"]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, departInS: 60, departAt: inH(1) })).toEqual([
      "departInS",
    ]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, departAt: "tomorrow" })).toEqual(["departAt"]);
    expect(fieldsOf({ vehicleId: "ev", energyKwh: 20, strict: true })).toEqual(["strict"]);
  });
});
