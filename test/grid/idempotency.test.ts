import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { startGrid } from "@evgrid/testing";

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  const data = errorDataOf(err);
  if (!data) throw new Error(`expected a typed failure, got ${String(err)}`);
  return data;
}

describe("idempotency and one session per vehicle", () => {
  test("20 concurrent retries of one request (same key) produce one session", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const request = { vehicleId: "ev-1", idempotencyKey: "order-42", durationS: 60 };
    const grants = await Promise.all(
      Array.from({ length: 20 }, () => grid.client.requestCharge.mutate(request)),
    );
    expect(new Set(grants.map((g) => g.sessionId)).size).toBe(1);
    expect(grants.filter((g) => !g.replayed)).toHaveLength(1);
    const active = grid.substations.reduce((acc, s) => acc + s.station.load().activeSessions, 0);
    expect(active).toBe(1);

    // A retry after the answer was lost: the same session again.
    const again = await grid.client.requestCharge.mutate(request);
    expect(again).toMatchObject({ sessionId: grants[0]?.sessionId, replayed: true });
  });

  test("a vehicle cannot hold two active sessions, even where there is more room", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const first = await grid.client.requestCharge.mutate({ vehicleId: "ev-7", durationS: 60 });
    const data = await failure(grid.client.requestCharge.mutate({ vehicleId: "ev-7", durationS: 60 }));
    expect(data).toMatchObject({ code: "CONFLICT", httpStatus: 409, reason: "VEHICLE_ALREADY_CHARGING" });
    // Busy, and nothing more: the caller may not be the vehicle's owner.
    expect(data.details).toBeUndefined();
    expect(JSON.stringify(data)).not.toContain(first.sessionId.split(".")[1]);

    // Once stopped, the vehicle may charge again.
    await grid.client.stopCharge.mutate({ sessionId: first.sessionId, sessionSecret: first.sessionSecret });
    const second = await grid.client.requestCharge.mutate({ vehicleId: "ev-7", durationS: 60 });
    expect(second.sessionId).not.toBe(first.sessionId);
  });

  test("an idempotency key cannot be reused by another vehicle", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await grid.client.requestCharge.mutate({ vehicleId: "ev-a", idempotencyKey: "k-1", durationS: 60 });
    const data = await failure(
      grid.client.requestCharge.mutate({ vehicleId: "ev-b", idempotencyKey: "k-1" }),
    );
    expect(data).toMatchObject({ code: "CONFLICT", reason: "IDEMPOTENCY_KEY_REUSED" });
  });

  test("one key sent at once for two vehicles: one is admitted, the other refused, never handed its session", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const ask = (vehicleId: string, idempotencyKey: string) =>
      grid.client.requestCharge.mutate({ vehicleId, idempotencyKey, durationS: 60 });
    for (let round = 0; round < 5; round++) {
      const key = `k-twice-${round}`;
      const both = await Promise.allSettled([ask(`ev-x-${round}`, key), ask(`ev-y-${round}`, key)]);
      const outcomes = both.map((b, i) =>
        b.status === "fulfilled"
          ? b.value.vehicleId === [`ev-x-${round}`, `ev-y-${round}`][i]
            ? "own session"
            : "another vehicle's session"
          : errorDataOf(b.reason)?.reason,
      );
      // Whichever comes first takes the key; the other is told the key is another vehicle's.
      expect(outcomes.sort()).toEqual(["IDEMPOTENCY_KEY_REUSED", "own session"]);
    }
  });

  test("if the substation holding the vehicle's session is down, the vehicle is not booked elsewhere", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const first = await grid.client.requestCharge.mutate({
      vehicleId: "ev-9",
      idempotencyKey: "k-9",
      durationS: 60,
    });
    const holder = grid.substations.find((s) => s.station.id === first.substationId);
    await holder?.stop();
    const data = await failure(
      grid.client.requestCharge.mutate({ vehicleId: "ev-9", idempotencyKey: "k-9", durationS: 60 }),
    );
    expect(data).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "HOME_SUBSTATION_UNAVAILABLE" });
    const other = grid.substations.find((s) => s !== holder);
    expect(other?.station.load().activeSessions).toBe(0);
  });
});
