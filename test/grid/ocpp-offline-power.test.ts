/**
 * Liveness of break before make with a charger gone: what a disconnected charger may still draw stays counted
 * (it may charge on, offline, at its last limit) while its transaction lasts, at the substation too (its
 * session pinned there), so a new charger gets what is really left at once, not a share that break before
 * make must hold back until the grace ends; once the grace ended it, the new charger gets the rest.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

test("a new charger waits while a disconnected one may still draw, and gets power once its transaction ended", async () => {
  await using grid = await startGrid({ capacitiesKw: [11] });
  await using ocpp = await startOcppGateway(grid, { OCPP_OFFLINE_GRACE_S: "2", OCPP_WALKIN_MIN_KW: "4.2" });
  const gone = await ocpp.charger("cp-gone", { maxKw: 11 });
  await gone.startTransaction(1, "ev-gone");
  await eventually(() => expect(gone.limit(1)).toBe(11_000));
  // It leaves for good (no reconnect): offline, it may go on drawing its 11 kW until its grace ends.
  const goneSession = () => grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-gone") });
  const goneId = (await goneSession())?.sessionId as string;
  await gone.close();
  const fresh = await ocpp.charger("cp-fresh", { maxKw: 11 });
  await fresh.startTransaction(1, "ev-fresh");
  // Given power only once the gone one's session has ended: never while it may still draw 11 kW. Every
  // profile the new charger received is checked against the end (a power decided after it arrives after it).
  await eventually(async () => expect(await goneSession()).toBeNull(), { timeoutMs: 20_000 });
  const endedAtMs = Date.parse((await grid.operator.getSession.query({ sessionId: goneId })).endedAt ?? "");
  expect(endedAtMs).toBeGreaterThan(0);
  const poweredWhileGone = fresh.profiles.filter(
    (p) => p.connectorId === 1 && p.watts > 0 && p.atMs < endedAtMs,
  );
  expect(poweredWhileGone).toEqual([]);
  await eventually(() => expect(fresh.limit(1)).toBe(11_000), { timeoutMs: 20_000 });
});

test("a disconnected charger's session is pinned at its last limit: a new charger gets what is left at once, not 0 W for the whole grace", async () => {
  await using grid = await startGrid({ capacitiesKw: [16] });
  await using ocpp = await startOcppGateway(grid, { OCPP_OFFLINE_GRACE_S: "60", OCPP_WALKIN_MIN_KW: "4.2" });
  const gone = await ocpp.charger("cp-gone", { maxKw: 11 });
  await gone.startTransaction(1, "ev-gone");
  await eventually(() => expect(gone.limit(1)).toBe(11_000));
  await gone.close();
  const goneSession = () => grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-gone") });
  // Pinned at the 11 kW it may still be drawing, whatever the shares say.
  await eventually(async () => expect(await goneSession()).toMatchObject({ allocatedKw: 11 }));
  const fresh = await ocpp.charger("cp-fresh", { maxKw: 11 });
  await fresh.startTransaction(1, "ev-fresh");
  // Fair shares would be 8 kW each, which the new charger could not be given while the gone one may draw 11:
  // before, it sat at 0 W for the whole grace. Now the substation gives it what is left: 5 kW.
  await eventually(() => expect(fresh.limit(1)).toBe(5000), { timeoutMs: 20_000 });
  expect(await goneSession()).toMatchObject({ status: "active", allocatedKw: 11 });
});
