import { describe, expect, test } from "bun:test";
import { startSubstation } from "@evgrid/substation/app";
import { readEnv } from "@evgrid/substation/env";
import { eventually, startGrid } from "@evgrid/testing";

describe("self-registration", () => {
  test("a new substation joins rotation without restarting anything, and leaves when its heartbeats stop", async () => {
    await using grid = await startGrid({
      capacitiesKw: [150],
      // Room for a loaded machine: the heartbeats (every 200 ms) may pause a while, but not 3 s.
      balancer: { HEARTBEAT_TIMEOUT_MS: "3000" },
    });
    const extra = await startSubstation(
      readEnv({
        SUBSTATION_ID: "substation-9",
        SUBSTATION_CAPACITY_KW: "150",
        SUBSTATION_DB_PATH: ":memory:",
        PORT: "0",
        LOG_QUIET: "true",
        SERVICE_TOKEN: grid.serviceToken,
        BALANCER_URLS: grid.balancer.url,
        HEARTBEAT_MS: "200",
      }),
    );
    try {
      await eventually(async () => {
        const joined = (await grid.operator.listSubstations.query()).find(
          (s) => s.substationId === "substation-9",
        );
        expect(joined).toMatchObject({ registered: true, healthy: true, url: extra.url });
      });

      const grants = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          grid.client.requestCharge.mutate({ vehicleId: `ev-${i}`, durationS: 60 }),
        ),
      );
      expect(new Set(grants.map((g) => g.substationId))).toEqual(new Set(["substation-1", "substation-9"]));

      // A crash, as the balancer sees it: heartbeats stop, nobody says goodbye.
      await extra.stopHeartbeats();
      const stoppedAt = performance.now();
      await eventually(
        async () => {
          const ids = (await grid.client.gridStatus.query()).substations.map((s) => s.substationId);
          expect(ids).toEqual(["substation-1"]);
        },
        { timeoutMs: 15_000 },
      );
      // Not before its heartbeat timeout (3 s) counted from its last heartbeat, which may have come up to
      // one interval (200 ms) before they stopped.
      expect(performance.now() - stoppedAt).toBeGreaterThan(3000 - 200);
      // Its sessions are still its own; they are just not routed to any more.
      expect(extra.station.load().activeSessions).toBeGreaterThan(0);
    } finally {
      await extra.stop();
    }
  });

  test("a graceful stop deregisters at once", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const extra = await startSubstation(
      readEnv({
        SUBSTATION_ID: "substation-8",
        SUBSTATION_DB_PATH: ":memory:",
        PORT: "0",
        LOG_QUIET: "true",
        SERVICE_TOKEN: grid.serviceToken,
        BALANCER_URLS: grid.balancer.url,
      }),
    );
    await eventually(async () => expect((await grid.client.gridStatus.query()).substations).toHaveLength(2));
    await extra.stop();
    expect((await grid.client.gridStatus.query()).substations.map((s) => s.substationId)).toEqual([
      "substation-1",
    ]);
  });

  test("registration needs the service token", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const res = await fetch(`${grid.balancer.url}/trpc/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "http://127.0.0.1:9" }),
    });
    expect(res.status).toBe(401);
    expect((await grid.client.gridStatus.query()).substations).toHaveLength(1);
  });
});
