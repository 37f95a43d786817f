/**
 * The gateway restarts (kill -9) while a charger charges at the limit it accepted, and the charger has not
 * reconnected yet. Its transaction was restored from the registry and its session read back, but it entered
 * break before make's books only once its charger was back: a new charger at the site was given 15 kW of 30
 * beside it still drawing 22, and its session was not pinned at what it may draw (found by a hostile-charger
 * probe). Without the restart the new charger gets 30 - 22 = 8 kW (test/grid/ocpp-offline-power.test.ts).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually, SimulatedChargePoint, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";

setDefaultTimeout(30_000);

test("a charger not yet back after the gateway's restart still counts at the limit it accepted", async () => {
  using dir = tempDir("evgrid-gw-restart-");
  {
    const env = { OCPP_DB_PATH: join(dir.path, "registry.sqlite"), OCPP_OFFLINE_GRACE_S: "120" };
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    const station = () => grid.substations[0]?.station;
    const allocated = (vehicle: string) =>
      station()
        ?.list("active", 10)
        .find((s) => s.vehicleId === walkInVehicleId(vehicle))?.allocatedKw;

    // First gateway: B charges alone at 22 kW (its maximum) on a 30 kW site.
    const first = await startOcppGateway(grid, env);
    const b = await first.charger("cp-b-restart", { maxKw: 22 });
    await b.startTransaction(1, "ev-b-restart");
    await eventually(() => expect(b.limit(1)).toBe(22_000));
    // The gateway dies (kill -9: nothing more reaches the grid), B's connection with it. B may charge on at
    // the 22 kW it accepted; it reconnects with back-off (here: not before the end of the test).
    first.gateway.grid.stop();
    await first[Symbol.asyncDispose]();
    expect(b.limit(1)).toBe(22_000);

    // Second gateway on the same registry: B's transaction is restored (resuming, then charging).
    await using second = await startOcppGateway(grid, env);
    await eventually(async () => {
      const listed = (await second.admin.listChargePoints.query()).find(
        (c) => c.chargePointId === "cp-b-restart",
      );
      expect(listed?.transactions[0]?.state).toBe("charging");
    });
    const a = await second.charger("cp-a-restart", { maxKw: 22 });
    await a.startTransaction(1, "ev-a-restart");
    await eventually(() => expect(a.limit(1)).toBeGreaterThan(0));
    await eventually(() => expect(allocated("ev-a-restart")).toBeGreaterThan(0));

    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const pusher = (second.gateway.gateway as any).pusher;
    await eventually(() =>
      expect({
        aLimitW: a.limit(1),
        bLastAcceptedW: b.limit(1),
        gatewayCountsW: pusher.committedW("substation-1"),
        substationHoldsForB: allocated("ev-b-restart"),
        substationHoldsForA: allocated("ev-a-restart"),
      }).toEqual({
        aLimitW: 8000,
        bLastAcceptedW: 22_000,
        gatewayCountsW: 30_000,
        substationHoldsForB: 22,
        substationHoldsForA: 8,
      }),
    );
  }
});

/**
 * Then its substation restarts too (forgetting the pin): the gateway sends caps and pins again (a new bootId),
 * and for the refusing charger not back since the gateway's restart that is its offline pin at what it may
 * draw. Before, it worked out "managed, no pin" for it (not in the books) and sent nothing.
 */
test("a substation restarted after the gateway's restart, the refusing charger not back yet, pins it again", async () => {
  using dir = tempDir("evgrid-gw-restart-pin-");
  {
    const env = { OCPP_DB_PATH: join(dir.path, "registry.sqlite"), OCPP_OFFLINE_GRACE_S: "120" };
    const journal = join(dir.path, "substation-1.sqlite");
    await using grid = await startGrid({
      capacitiesKw: [150],
      substationEnv: () => ({ SUBSTATION_DB_PATH: journal }),
    });
    grid.substations[0]?.station.setLimit(30);
    const allocated = (vehicle: string) =>
      grid.substations[0]?.station.list("active", 10).find((s) => s.vehicleId === walkInVehicleId(vehicle))
        ?.allocatedKw;

    const first = await startOcppGateway(grid, env);
    const honestFirst = await first.charger("cp-honest-rp", { maxKw: 22 });
    await honestFirst.startTransaction(1, "ev-honest-rp");
    const refuser = await first.charger("cp-refuser-rp", {
      maxKw: 22,
      behaviour: { profileAnswer: "Rejected" },
    });
    await refuser.startTransaction(1, "ev-refuser-rp");
    await eventually(() => expect([allocated("ev-refuser-rp"), allocated("ev-honest-rp")]).toEqual([22, 8]));
    await eventually(() => expect(honestFirst.limit(1)).toBe(8000));
    // The gateway dies with both chargers' connections; only the honest one comes back (to the new gateway).
    first.gateway.grid.stop();
    await first[Symbol.asyncDispose]();
    await using second = await startOcppGateway(grid, env);
    await eventually(async () => {
      const txs = (await second.admin.listChargePoints.query()).flatMap((c) => c.transactions);
      expect(txs.map((t) => t.state)).toEqual(["charging", "charging"]);
    });
    // The honest charger reconnects and goes on with its transaction (registered again: the test does not
    // know the password the helper made).
    const password = "probe-password-1234567";
    await second.admin.registerChargePoint.mutate({
      chargePointId: "cp-honest-rp",
      substationId: "substation-1",
      password,
      maxKw: 22,
    });
    const honest = new SimulatedChargePoint({
      url: second.gateway.ocppUrl,
      id: "cp-honest-rp",
      password,
      protocol: "ocpp1.6",
    });
    second.chargers.push(honest);
    honest.transactions.set(1, honestFirst.transactions.get(1) ?? "");
    await honest.connect();
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    expect(allocated("ev-refuser-rp")).toBe(22);

    // The substation restarts in place (same port, same journal): the refuser's pin is forgotten there.
    await grid.restartSubstation(0);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const pusher = (second.gateway.gateway as any).pusher;
    await eventually(
      () =>
        expect({
          substationHoldsForRefuser: allocated("ev-refuser-rp"),
          substationHoldsForHonest: allocated("ev-honest-rp"),
          honestLimitW: honest.limit(1),
          gatewayCountsW: pusher.committedW("substation-1"),
        }).toEqual({
          substationHoldsForRefuser: 22,
          substationHoldsForHonest: 8,
          honestLimitW: 8000,
          gatewayCountsW: 30_000,
        }),
      { timeoutMs: 15_000 },
    );
  }
});
