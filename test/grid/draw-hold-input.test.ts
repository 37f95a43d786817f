/**
 * A substation's setDrawHold (internal: the OCPP gateway holds power drawn with no session) over real HTTP:
 * bad input is refused with its field, a 17th source with its own reason, and nothing is held for either.
 */
import { describe, expect, test } from "bun:test";
import { startGrid } from "@evgrid/testing";

type ErrorBody = {
  error?: { data?: { code?: string; reason?: string; fieldErrors?: Record<string, unknown> } };
};

describe("setDrawHold", () => {
  test("refuses bad input with the field, and a source too many with DRAW_HOLDS_FULL", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const url = `${grid.substations[0]?.url}/trpc/setDrawHold`;
    const hold = async (input: unknown) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${grid.serviceToken}`, "content-type": "application/json" },
        body: JSON.stringify(input),
      });
      const data = ((await res.json()) as ErrorBody).error?.data;
      return {
        status: res.status,
        code: data?.code,
        reason: data?.reason,
        fields: Object.keys(data?.fieldErrors ?? {}),
      };
    };
    const invalid = (field: string) => ({
      status: 400,
      code: "BAD_REQUEST",
      reason: "INVALID_INPUT",
      fields: [field],
    });
    expect(await hold({ source: "a source", kw: 1 })).toEqual(invalid("source"));
    expect(await hold({ source: "x".repeat(65), kw: 1 })).toEqual(invalid("source"));
    expect(await hold({ source: "ocpp-gateway", kw: -1 })).toEqual(invalid("kw"));
    expect(await hold({ source: "ocpp-gateway", kw: Number.NaN })).toEqual(invalid("kw")); // JSON: null
    expect(await hold({ source: "ocpp-gateway", kw: 1e7 })).toEqual(invalid("kw"));
    expect((await hold({ source: "ocpp-gateway", kw: 1, extra: true })).reason).toBe("INVALID_INPUT");
    for (let i = 0; i < 16; i++) expect((await hold({ source: `source-${i}`, kw: 1 })).status).toBe(200);
    expect(await hold({ source: "one-too-many", kw: 1 })).toEqual({
      status: 409,
      code: "CONFLICT",
      reason: "DRAW_HOLDS_FULL",
      fields: [],
    });
    expect(grid.substations[0]?.station.load()).toMatchObject({ heldDrawKw: 16, effectiveCapacityKw: 134 });
  });
});
