import { describe, expect, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { errorDataOf } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { startGrid } from "@evgrid/testing";

const KEY_A = "key-aaaaaaaaaaaaaaaa";
const KEY_B = "key-bbbbbbbbbbbbbbbb";

describe("API keys on the public API (API_KEYS)", () => {
  test("without a key, or with a wrong one, every public entry point is 401; with any listed key it serves", async () => {
    await using grid = await startGrid({ capacitiesKw: [150], chargeApi: { API_KEYS: `${KEY_A},${KEY_B}` } });
    const anonymous = await grid.client.gridStatus.query().catch((e: unknown) => e);
    expect(errorDataOf(anonymous)).toMatchObject({ code: "UNAUTHORIZED", reason: "UNAUTHORIZED" });
    const wrong = internalClient<ChargeApiRouter>(grid.api.url, {
      timeoutMs: 5000,
      token: "key-cccccccccccccccc",
    });
    expect(errorDataOf(await wrong.gridStatus.query().catch((e: unknown) => e))?.code).toBe("UNAUTHORIZED");

    const withB = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 5000, token: KEY_B });
    expect((await withB.requestCharge.mutate({ vehicleId: "ev-1", durationS: 60 })).substationId).toBe(
      "substation-1",
    );
    const withA = await fetch(`${grid.api.url}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY_A },
      body: JSON.stringify({ vehicleId: "ev-2", durationS: 60 }),
    });
    expect(withA.status).toBe(200);

    const legacy = await fetch(`${grid.api.url}/request_charge`, { method: "POST" });
    expect(legacy.status).toBe(401);
    expect(await legacy.text()).toMatch(/^Unauthorized: .*\n$/);
    const legacyWithKey = await fetch(`${grid.api.url}/request_charge`, {
      method: "POST",
      headers: { "x-api-key": KEY_A },
    });
    expect(await legacyWithKey.text()).toBe("Routed to substation-1\n");
  });
});
