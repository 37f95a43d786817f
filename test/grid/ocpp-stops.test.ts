/**
 * Issue 17, finding 1: a stop the grid has not confirmed is never forgotten. The gateway asks the grid first,
 * keeps what it could not stop in an outbox (in memory and in its registry) and retries until the grid says
 * it is done: through a link that swallows stopSession, a full registry disk, and its own restart.
 */
import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { walkInVehicleId } from "@evgrid/contract";
import {
  eventually,
  faultyProxy,
  metricValue,
  type SimulatedChargePoint,
  startGrid,
  startOcppGateway,
  tempDir,
} from "@evgrid/testing";

setDefaultTimeout(30_000);

type Grid = Awaited<ReturnType<typeof startGrid>>;

/** The grid behind a proxy that swallows stopSession while `broken.on` (the gateway's calls time out). */
function gridBehindProxy(grid: Grid) {
  const broken = { on: false };
  const proxy = faultyProxy(grid.balancer.url, (p) => broken.on && p === "stopSession");
  return { broken, proxy, via: { balancer: { url: proxy.url }, serviceToken: grid.serviceToken } };
}

/** Whether the walk-in presenting this idTag holds an active grid session (walk-ins have ids of their own). */
const active = async (grid: Grid, idTag: string) =>
  (await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId(idTag) }))?.status === "active";

/** Plugs a walk-in in and waits until it charges (bound to a grid session, its limit received). */
async function charging(cp: SimulatedChargePoint, grid: Grid, vehicleId: string) {
  await cp.startTransaction(1, vehicleId);
  await eventually(() => expect(cp.limit(1)).toBeGreaterThan(0));
  expect(await active(grid, vehicleId)).toBe(true);
}

/**
 * Fills the registry's `stops` table to its last bytes under the same size cap as the gateway's: a new row
 * there needs a new page, which the cap refuses (SQLITE_FULL), exactly as on a full disk.
 */
function fillStops(path: string, maxMb: number) {
  const db = new Database(path, { strict: true });
  db.exec("PRAGMA busy_timeout = 5000");
  const { page_size } = db.query<{ page_size: number }, []>("PRAGMA page_size").get() ?? { page_size: 4096 };
  db.exec(`PRAGMA max_page_count = ${Math.floor((maxMb * 1024 * 1024) / page_size)}`);
  let n = 0;
  for (const bytes of [page_size - 200, 2000, 500, 100, 20, 1, 0]) {
    try {
      for (;;) {
        db.run("INSERT INTO stops (session_id, reason, queued_at) VALUES (?, 'stopped', 0)", [
          `h${(++n).toString(36)}${"x".repeat(bytes)}`,
        ]);
      }
    } catch (err) {
      // Only a full database ends a round; anything else (a busy lock on a loaded machine) would leave room.
      if ((err as { code?: string }).code !== "SQLITE_FULL") throw err;
    }
  }
  return { free: () => db.exec("DELETE FROM stops WHERE session_id LIKE 'h%'"), close: () => db.close() };
}

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s: a stop the grid did not confirm", (protocol) => {
  test("is retried until the grid ends the session (stopSession swallowed, then the link recovers)", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    const { broken, proxy, via } = gridBehindProxy(grid);
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via, { OCPP_CALL_TIMEOUT_MS: "300" });
    const cp = await ocpp.charger("cp-stop", { protocol });
    await charging(cp, grid, "ev-stop");

    broken.on = true;
    await cp.stopTransaction(1, 1000); // the charger is answered at once, whatever the grid does
    // Tried, and tried again: the outbox keeps at it while the link swallows the stops.
    await eventually(() => expect(proxy.calls("stopSession")).toBeGreaterThanOrEqual(2), {
      timeoutMs: 10_000,
    });
    expect(await active(grid, "ev-stop")).toBe(true);
    broken.on = false;
    await eventually(async () => expect(await active(grid, "ev-stop")).toBe(false), { timeoutMs: 15_000 });
    // The outbox lets the stop go once the grid's answer is back: that can come just after the session ends.
    await eventually(async () => {
      const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
      expect(metricValue(metrics, "evgrid_ocpp_stops_pending")).toBe(0);
    });
  });
});

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s: a session the grid ends", (protocol) => {
  test("its charger is held at 0 W until it reports the end, even one that accepts the stop and charges on", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-deaf", { protocol, behaviour: { stopWhenAsked: false } });
    await charging(cp, grid, "ev-deaf");
    const session = await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-deaf") });
    await grid.operator.stopSession.mutate({ sessionId: session?.sessionId as string });
    await eventually(() => expect(cp.stopsAsked).toHaveLength(1));
    // The transaction is still open at the charger, and may draw nothing.
    await eventually(() => expect(cp.limit(1)).toBe(0));
    expect(cp.transactions.size).toBe(1);
    // When it does end it, the gateway has nothing left to tell it.
    const calls = cp.profileCalls;
    await cp.stopTransaction(1, 1000);
    await eventually(async () => {
      const status = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
      expect(metricValue(status, "evgrid_ocpp_transactions", { state: "stopping" })).toBe(0);
    });
    expect(cp.profileCalls).toBe(calls);
  });

  test("a charger offline when its session ends is held at 0 W once it is back, not at its old limit", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    await using ocpp = await startOcppGateway(grid);
    const cp = await ocpp.charger("cp-away", { protocol, behaviour: { stopWhenAsked: false } });
    await charging(cp, grid, "ev-away");
    const session = await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-away") });
    await cp.close();
    await grid.operator.stopSession.mutate({ sessionId: session?.sessionId as string });
    await cp.connect();
    await eventually(() => expect(cp.stopsAsked).toHaveLength(1));
    await eventually(() => expect(cp.limit(1)).toBe(0));
  });
});

describe("a stop survives", () => {
  test("a stop the grid confirms only on a retry still gives its share to the charge point's other transaction", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const { broken, proxy, via } = gridBehindProxy(grid);
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via, { OCPP_CALL_TIMEOUT_MS: "300" });
    const cp = await ocpp.charger("cp-two", { maxKw: 22, connectors: 2 });
    await cp.startTransaction(1, "ev-leaves");
    await cp.startTransaction(2, "ev-stays");
    // Two walk-ins on a 22 kW charge point: 11 kW each.
    await eventually(() => expect(cp.limit(2)).toBe(11_000));

    broken.on = true;
    await cp.stopTransaction(1, 1000);
    await eventually(() => expect(proxy.calls("stopSession")).toBeGreaterThanOrEqual(2), {
      timeoutMs: 10_000,
    });
    broken.on = false;
    await eventually(async () => expect(await active(grid, "ev-leaves")).toBe(false), { timeoutMs: 15_000 });
    // The grid took its power back: the one left has the whole charge point.
    await eventually(() => expect(cp.limit(2)).toBe(22_000), { timeoutMs: 15_000 });
  });

  test("a full registry disk: the charger's StopTransaction is answered, and the grid session still ends", async () => {
    using dir = tempDir("evgrid-ocpp-full-");
    const path = join(dir.path, "registry.sqlite");
    await using grid = await startGrid({ capacitiesKw: [22] });
    const { broken, proxy, via } = gridBehindProxy(grid);
    using _proxy = proxy;
    await using ocpp = await startOcppGateway(via, {
      OCPP_CALL_TIMEOUT_MS: "300",
      OCPP_DB_PATH: path,
      OCPP_DB_MAX_MB: "1",
    });
    const cp = await ocpp.charger("cp-full-disk");
    await charging(cp, grid, "ev-full-disk");

    const disk = fillStops(path, 1);
    try {
      broken.on = true;
      // Answered (no CALLERROR) although neither the grid nor the registry could take the stop.
      await cp.stopTransaction(1, 1000);
      await eventually(
        async () => {
          const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
          expect(metricValue(metrics, "evgrid_ocpp_registry_write_failures_total")).toBeGreaterThanOrEqual(1);
        },
        { timeoutMs: 15_000 },
      );
      await eventually(() => expect(proxy.calls("stopSession")).toBeGreaterThanOrEqual(2), {
        timeoutMs: 10_000,
      });
      broken.on = false;
      await eventually(async () => expect(await active(grid, "ev-full-disk")).toBe(false), {
        timeoutMs: 15_000,
      });
    } finally {
      disk.free();
      disk.close();
    }
  });

  test("the gateway's restart: the stop recorded before it stopped is done by the next one", async () => {
    using dir = tempDir("evgrid-ocpp-restart-");
    const env = { OCPP_CALL_TIMEOUT_MS: "300", OCPP_DB_PATH: join(dir.path, "registry.sqlite") };
    await using grid = await startGrid({ capacitiesKw: [22] });
    const { broken, proxy, via } = gridBehindProxy(grid);
    using _proxy = proxy;
    {
      await using ocpp = await startOcppGateway(via, env);
      const cp = await ocpp.charger("cp-restart", { protocol: "ocpp2.0.1" });
      await charging(cp, grid, "ev-restart");
      broken.on = true;
      await cp.stopTransaction(1, 1000);
      await eventually(async () => {
        const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
        expect(metricValue(metrics, "evgrid_ocpp_stops_pending")).toBe(1);
        expect(
          metricValue(metrics, "evgrid_ocpp_session_stops_total", { outcome: "failed" }),
        ).toBeGreaterThan(0);
      });
    } // the gateway stops with the stop still pending
    expect(await active(grid, "ev-restart")).toBe(true);
    broken.on = false;
    await using again = await startOcppGateway(via, env);
    await eventually(async () => expect(await active(grid, "ev-restart")).toBe(false), { timeoutMs: 15_000 });
    await eventually(async () => {
      const metrics = await (await fetch(`${again.gateway.url}/metrics`)).text();
      expect(metricValue(metrics, "evgrid_ocpp_stops_pending")).toBe(0);
    });
  });
});
