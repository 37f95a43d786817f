/**
 * A substation journals its sessions, not the caps and pins the gateway set on them: restarted, a session
 * pinned at its charger's maximum (a charger that takes no limits) came back at its own bounds, and the
 * gateway, which had sent that pin already, never sent it again: the substation gave the others the power
 * the charger may still draw. Each level event now names the substation's run (`bootId`); a new one makes
 * the gateway send every cap and pin there again.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { eventually, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe("a substation restarted under a charger that takes no limits", () => {
  test("holds its session at the charger's maximum again: the others do not get that power", async () => {
    using dir = tempDir("evgrid-pin-restart-");
    const journal = join(dir.path, "substation-1.sqlite");
    await using grid = await startGrid({
      capacitiesKw: [150],
      substationEnv: () => ({ SUBSTATION_DB_PATH: journal }),
    });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid);
    const honest = await ocpp.charger("cp-honest-rs", { maxKw: 22 });
    const honestSession = await honest.startTransaction(1, "ev-honest-rs");
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
    const booking = await grid.client.requestCharge.mutate({ vehicleId: "ev-booked-rs", durationS: 600 });
    const refuser = await ocpp.charger("cp-refuser-rs", {
      maxKw: 22,
      behaviour: { profileAnswer: "Rejected" },
    });
    await refuser.startTransaction(1, booking.idTag);
    await ocpp.txSession("cp-refuser-rs");
    const allocations = () => {
      const station = grid.substations[0]?.station;
      return {
        booked: station?.get(booking.sessionId).allocatedKw,
        honest: station?.list("active", 10).find((s) => s.vehicleId !== booking.vehicleId)?.allocatedKw,
      };
    };
    await eventually(() => expect(allocations()).toEqual({ booked: 22, honest: 8 }));
    expect(honestSession).toBeDefined();

    // Restarted in place: same port, same journal (its sessions and its operator limit come back).
    await grid.restartSubstation(0);
    await eventually(() => expect(allocations()).toEqual({ booked: 22, honest: 8 }), { timeoutMs: 15_000 });
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    expect(refuser.stopsAsked).toHaveLength(0);
  });
});
