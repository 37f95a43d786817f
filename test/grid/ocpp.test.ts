/**
 * Chargers over OCPP-J, end to end: a grid (real HTTP and links), the gateway, and simulated charge points
 * speaking 1.6J and 2.0.1 through ocpp-rpc's strict client.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s", (protocol) => {
  test("a dispatched vehicle plugs in: its charger gets the session's allocation; a second vehicle lowers it within 1 s", async () => {
    await using grid = await startGrid({ capacitiesKw: [20] });
    await using ocpp = await startOcppGateway(grid);
    const grant = await grid.client.requestCharge.mutate({
      vehicleId: "ev-booked",
      maxKw: 11,
      durationS: 3600,
    });
    expect(grant.allocatedKw).toBe(11);

    const first = await ocpp.charger("cp-a", { protocol });
    const firstProfile = first.nextProfile(1, () => true);
    await first.startTransaction(1, grant.idTag);
    expect((await firstProfile).watts).toBe(11_000);
    // The transaction took over the booked session: no second one.
    const [listed] = await ocpp.admin.listChargePoints.query();
    expect(listed?.transactions[0]).toMatchObject({
      sessionId: grant.sessionId,
      state: "charging",
      profileW: 11_000,
    });

    // A walk-in at the same substation: 20 kW shared, 10 each.
    const second = await ocpp.charger("cp-b", { protocol: protocol === "ocpp1.6" ? "ocpp2.0.1" : "ocpp1.6" });
    // How fast the push comes is `bun run bench:ocpp`'s business; here only that it comes.
    const lowered = first.nextProfile(1, (w) => w < 11_000);
    await second.startTransaction(1, "ev-walk-in");
    expect((await lowered).watts).toBe(10_000);
    await eventually(() => expect(second.limit(1)).toBe(10_000));

    // The second leaves: the first goes back up.
    const raised = first.nextProfile(1, (w) => w === 11_000);
    await second.stopTransaction(1, 500);
    await raised;
    const ended = await grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-walk-in") });
    expect(ended).toBeNull();
  });

  test("a full grid gives 0 W, then real power once some frees up", async () => {
    await using grid = await startGrid({ capacitiesKw: [11] });
    await using ocpp = await startOcppGateway(grid);
    const hog = await grid.client.requestCharge.mutate({
      vehicleId: "ev-hog",
      minKw: 11,
      maxKw: 11,
      durationS: 600,
    });
    const cp = await ocpp.charger("cp-full", { protocol });
    const zero = cp.nextProfile(1, () => true);
    await cp.startTransaction(1, "ev-waiting");
    expect((await zero).watts).toBe(0);
    const [listed] = await ocpp.admin.listChargePoints.query();
    expect(listed?.transactions[0]?.state).toBe("waiting");

    const real = cp.nextProfile(1, (w) => w > 0);
    await grid.client.stopCharge.mutate({ sessionId: hog.sessionId, sessionSecret: hog.sessionSecret });
    expect((await real).watts).toBe(11_000);
  });

  test("stopCharge on a plugged-in session asks the charger to stop; the session ends", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await using ocpp = await startOcppGateway(grid);
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-stop", durationS: 600 });
    const cp = await ocpp.charger("cp-stop", { protocol });
    const tx = await cp.startTransaction(1, grant.idTag);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));
    await grid.client.stopCharge.mutate({ sessionId: grant.sessionId, sessionSecret: grant.sessionSecret });
    await eventually(() => expect(cp.stopsAsked).toEqual([tx]));
    await eventually(() => expect(cp.transactions.size).toBe(0));
    const [listed] = await ocpp.admin.listChargePoints.query();
    expect(listed?.transactions).toEqual([]);
  });

  test("the meter is the session's energy: an energy session ends when the meter says so", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    // Its meter steps 1 kWh at a time within a second: far more than 11 kW could deliver, allowed as slack.
    await using ocpp = await startOcppGateway(grid, { OCPP_METER_SLACK_WH: "2000" });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-energy", energyKwh: 2 });
    const cp = await ocpp.charger("cp-meter", { protocol });
    await cp.startTransaction(1, grant.idTag, 10_000);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));
    await cp.meter(1, { energyWh: 11_000 });
    await eventually(async () => {
      const s = await grid.client.getSession.query({
        sessionId: grant.sessionId,
        sessionSecret: grant.sessionSecret,
      });
      expect(s.deliveredKwh).toBeCloseTo(1, 3);
    });
    await cp.meter(1, { energyWh: 12_000 });
    await eventually(() => expect(cp.stopsAsked.length).toBe(1));
    const s = await grid.client.getSession.query({
      sessionId: grant.sessionId,
      sessionSecret: grant.sessionSecret,
    });
    expect(s).toMatchObject({ status: "ended", endReason: "energy_delivered" });
  });
});

describe("reclaim and offline", () => {
  test("a vehicle drawing 3 kW of its 11 kW is capped; the other charger's profile rises, and falls back when it draws again", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    await using ocpp = await startOcppGateway(grid, { OCPP_RECLAIM_WINDOW_S: "0.6" });
    const slow = await ocpp.charger("cp-slow", { maxKw: 11 });
    const fast = await ocpp.charger("cp-fast", { maxKw: 22, protocol: "ocpp2.0.1" });
    await slow.startTransaction(1, "ev-tapering");
    await fast.startTransaction(1, "ev-hungry");
    await eventually(() => expect([slow.limit(1), fast.limit(1)]).toEqual([11_000, 11_000]));
    const rises = fast.nextProfile(1, (w) => w > 11_000, 15_000);
    // It keeps reporting 3 kW until the reclaim window (0.6 s) has seen enough of it.
    await eventually(
      async () => {
        await slow.meter(1, { powerW: 3000 });
        expect(fast.limit(1)).toBeGreaterThan(11_000);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    // Capped at max(draw + 1 kW margin, the walk-in minimum 4.2 kW): 22 - 4.2 = 17.8 kW for the other.
    expect((await rises).watts).toBe(17_800);
    await eventually(() => expect(slow.limit(1)).toBe(4200));
    const listed = await ocpp.admin.listChargePoints.query();
    const slowListed = listed.find((c) => c.chargePointId === "cp-slow");
    expect(slowListed?.transactions[0]).toMatchObject({ capKw: 4.2, profileW: 4200, state: "charging" });
    const metrics = await (await fetch(`${ocpp.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/evgrid_ocpp_reclaimed_watts(\{[^}]*\})? 6800/);

    // It draws up to its cap again: the cap is lifted and the shares go back to 11/11.
    const back = fast.nextProfile(1, (w) => w === 11_000, 5000);
    await slow.meter(1, { powerW: 4200 });
    await back;
  });

  test("a charger back within the grace resumes; one gone past it has its session ended (charger_offline)", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    // 3 s: the reconnect (a back-off of 150-250 ms) comes well within it on a loaded machine.
    await using ocpp = await startOcppGateway(grid, { OCPP_OFFLINE_GRACE_S: "3" });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-offline", durationS: 600 });
    const access = { sessionId: grant.sessionId, sessionSecret: grant.sessionSecret };
    const cp = await ocpp.charger("cp-offline");
    await cp.startTransaction(1, grant.idTag);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));

    // The connection drops; the charger reconnects on its own (back-off) and is sent its power again.
    const resent = cp.nextProfile(1, (w) => w === 11_000, 5000);
    (cp.client as unknown as { _ws: { terminate(): void } })._ws.terminate();
    await resent;
    expect(await grid.client.getSession.query(access)).toMatchObject({ status: "active" });

    // Gone for good: after the grace the session ends and its power is freed. It ends a grace after THIS
    // close, not after the first drop's: the resumed charger's grace was called off (a later event, no pause).
    const closedAtMs = Date.now();
    await cp.close();
    const ended = await eventually(
      async () => {
        const s = await grid.client.getSession.query(access);
        expect(s).toMatchObject({ status: "ended", endReason: "charger_offline" });
        return s;
      },
      { timeoutMs: 15_000 },
    );
    expect(Date.parse(ended.endedAt ?? "")).toBeGreaterThanOrEqual(closedAtMs + 3000 - 50);
  });

  test("an end whose event never arrived (power events cut) is found by the reconcile, and the charger is stopped", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await using ocpp = await startOcppGateway(grid, { OCPP_RECONCILE_S: "0.5" });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev-lost-end", durationS: 600 });
    const cp = await ocpp.charger("cp-lost-end");
    const tx = await cp.startTransaction(1, grant.idTag);
    await eventually(() => expect(cp.limit(1)).toBe(11_000));
    // The gateway stops hearing the substation (as when a link is down), then the session is stopped.
    ocpp.gateway.grid.watchOnly([]);
    await grid.client.stopCharge.mutate({ sessionId: grant.sessionId, sessionSecret: grant.sessionSecret });
    await eventually(() => expect(cp.stopsAsked).toEqual([tx]), { timeoutMs: 5000 });
  });
});
