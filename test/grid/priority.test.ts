/** Priority classes through the public API: who may ask for what, and what a class gets at the substation. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { errorDataOf } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { eventually, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

const FLEET_KEY = "fleet-key-0123456789abcdef";
const PLAIN_KEY = "plain-key-0123456789abcdef";

describe("priority classes", () => {
  test("anonymous callers and keys without a class may ask for standard only: 403 PRIORITY_NOT_ALLOWED", async () => {
    await using open = await startGrid({ capacitiesKw: [100] });
    const refused = await open.client.requestCharge
      .mutate({ vehicleId: "ev-anon", priority: "fleet", durationS: 60 })
      .catch((e) => e);
    expect(refused.data).toMatchObject({
      httpStatus: 403,
      reason: "PRIORITY_NOT_ALLOWED",
      details: { field: "priority", allowed: "standard" },
    });
    // Asking for standard is always fine.
    await open.client.requestCharge.mutate({ vehicleId: "ev-anon", priority: "standard", durationS: 60 });

    await using keyed = await startGrid({
      capacitiesKw: [100],
      chargeApi: { API_KEYS: `${FLEET_KEY}=fleet,${PLAIN_KEY}` },
    });
    const as = (key: string) =>
      internalClient<ChargeApiRouter>(keyed.api.url, { timeoutMs: 5000, token: key });
    const fleet = await as(FLEET_KEY).requestCharge.mutate({
      vehicleId: "ev-f",
      priority: "fleet",
      durationS: 60,
    });
    expect(fleet.priority).toBe("fleet");
    const tooHigh = await as(FLEET_KEY)
      .requestCharge.mutate({ vehicleId: "ev-e", priority: "emergency", durationS: 60 })
      .catch((e) => e);
    expect(errorDataOf(tooHigh)).toMatchObject({
      reason: "PRIORITY_NOT_ALLOWED",
      details: { allowed: "fleet" },
    });
    const plain = await as(PLAIN_KEY)
      .requestCharge.mutate({ vehicleId: "ev-p", priority: "fleet", durationS: 60 })
      .catch((e) => e);
    expect(errorDataOf(plain)?.reason).toBe("PRIORITY_NOT_ALLOWED");
    // The service token (operators) may ask for any class.
    const operator = internalClient<ChargeApiRouter>(keyed.api.url, {
      timeoutMs: 5000,
      token: keyed.serviceToken,
    });
    const urgent = await operator.requestCharge.mutate({
      vehicleId: "ev-o",
      priority: "emergency",
      durationS: 60,
    });
    expect(urgent.priority).toBe("emergency");
  });

  test("a fleet session gets twice a standard one's share above the minimums, capped at its maximum", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    const op = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 5000, token: grid.serviceToken });
    const standard = await op.requestCharge.mutate({
      vehicleId: "ev-s",
      maxKw: 22,
      minKw: 1.4,
      durationS: 600,
    });
    const fleet = await op.requestCharge.mutate({
      vehicleId: "ev-f",
      maxKw: 22,
      minKw: 1.4,
      durationS: 600,
      priority: "fleet",
    });
    expect(fleet.allocatedKw).toBe(20);
    const s = await op.getSession.query({ sessionId: standard.sessionId });
    expect(s.allocatedKw).toBe(10);
  });

  test("the wait queue offers freed power to a higher class first, then first come", async () => {
    await using grid = await startGrid({ capacitiesKw: [11] });
    const op = internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 30_000, token: grid.serviceToken });
    const holder = await op.requestCharge.mutate({ vehicleId: "ev-h", maxKw: 11, minKw: 11, durationS: 600 });
    const order: string[] = [];
    const wait = (vehicleId: string, priority: "standard" | "fleet") =>
      op.requestCharge
        .mutate({ vehicleId, maxKw: 11, minKw: 11, durationS: 600, waitS: 20, priority })
        .then((g) => {
          order.push(vehicleId);
          return g;
        });
    const waiting = (n: number) => eventually(() => expect(grid.balancer.dispatcher.waitingCount).toBe(n));
    const first = wait("ev-standard-first", "standard");
    await waiting(1);
    const later = wait("ev-fleet-later", "fleet");
    await waiting(2);
    await op.stopCharge.mutate({ sessionId: holder.sessionId });
    const admitted = await later;
    expect(order).toEqual(["ev-fleet-later"]);
    await op.stopCharge.mutate({ sessionId: admitted.sessionId });
    await first;
    expect(order).toEqual(["ev-fleet-later", "ev-standard-first"]);
  });
});
