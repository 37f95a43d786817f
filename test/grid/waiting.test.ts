import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually, startGrid } from "@evgrid/testing";

const fast = { LOAD_REFRESH_MS: "100" };

describe("bounded waiting for capacity (waitS)", () => {
  test("a request that may wait is admitted as soon as a session ends", async () => {
    await using grid = await startGrid({ capacitiesKw: [8.4], balancer: fast });
    const a = await grid.client.requestCharge.mutate({ vehicleId: "a", durationS: 600 });
    await grid.client.requestCharge.mutate({ vehicleId: "b", durationS: 60 });
    const waiting = grid.client.requestCharge.mutate({ vehicleId: "c", durationS: 60, waitS: 30 });
    await eventually(() => expect(grid.balancer.dispatcher.waitingCount).toBe(1)); // queued, not refused
    expect(grid.substations[0]?.station.load().activeSessions).toBe(2);
    // "a" ends; the next refresh lets "c" in.
    await grid.client.stopCharge.mutate({ sessionId: a.sessionId, sessionSecret: a.sessionSecret });
    expect((await waiting).substationId).toBe("substation-1");
  });

  test("when no power frees up in time the answer is GRID_FULL, after the wait and not before", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2], balancer: fast });
    await grid.client.requestCharge.mutate({ vehicleId: "a", durationS: 60 });
    const started = performance.now();
    const err = await grid.client.requestCharge
      .mutate({ vehicleId: "b", waitS: 0.5 })
      .catch((e: unknown) => e);
    const waitedMs = performance.now() - started;
    expect(errorDataOf(err)).toMatchObject({ code: "TOO_MANY_REQUESTS", reason: "GRID_FULL" });
    expect(waitedMs).toBeGreaterThan(450); // a lower bound: a slow machine only makes the wait longer
    expect(grid.substations[0]?.station.load().activeSessions).toBe(1);
  });

  test("waiters are served first come, first served", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2], balancer: fast });
    // Held until all three wait (a session that ended on its own while they queued let x in too early).
    const first = await grid.client.requestCharge.mutate({ vehicleId: "first", durationS: 600 });
    const order: string[] = [];
    const waiters: Promise<void>[] = [];
    // Each joins the queue only once the one before it is in: arrival order is certain.
    for (const [i, vehicleId] of ["x", "y", "z"].entries()) {
      waiters.push(
        grid.client.requestCharge
          .mutate({ vehicleId, durationS: 0.4, waitS: 30 })
          .then((g) => void order.push(g.vehicleId)),
      );
      await eventually(() => expect(grid.balancer.dispatcher.waitingCount).toBe(i + 1));
    }
    await grid.client.stopCharge.mutate({ sessionId: first.sessionId, sessionSecret: first.sessionSecret });
    await Promise.all(waiters);
    expect(order).toEqual(["x", "y", "z"]);
  });

  test("waitS is validated like every field", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2] });
    const err = await grid.client.requestCharge
      .mutate({ vehicleId: "a", waitS: 301 })
      .catch((e: unknown) => e);
    expect(errorDataOf(err)).toMatchObject({
      code: "BAD_REQUEST",
      fieldErrors: { waitS: expect.any(Array) },
    });
  });
});
