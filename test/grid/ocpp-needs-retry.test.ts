/**
 * A car says its needs (NotifyEVChargingNeeds) once per negotiation: needs its substation never answered (a
 * timeout, a link gone) are sent again by the gateway, not lost until the car repeats them.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

const inH = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

describe("charging needs from the charger, when the substation does not answer", () => {
  test("2.0.1: needs the substation did not answer (a timeout) are sent again, not lost until the car repeats them", async () => {
    await using grid = await startGrid({ capacitiesKw: [30] });
    await using ocpp = await startOcppGateway(grid, { OCPP_CALL_TIMEOUT_MS: "2000" });
    // The substation's first setSessionNeeds hangs past the gateway's timeout, then fails: never taken.
    const station = grid.substations[0]?.station;
    if (!station) throw new Error("no substation");
    const setNeeds = station.setNeeds.bind(station);
    const hung = Promise.withResolvers<void>();
    let calls = 0;
    // (A test's fault: the real one answers at once.)
    station.setNeeds = (async (input: Parameters<typeof setNeeds>[0]) => {
      calls += 1;
      if (calls > 1) return setNeeds(input);
      await hung.promise;
      throw new Error("lost on the way");
    }) as unknown as typeof station.setNeeds;
    try {
      const cp = await ocpp.charger("cp-lost", { protocol: "ocpp2.0.1", maxKw: 22 });
      await cp.startTransaction(1, "ev-lost");
      await eventually(() => expect(cp.limit(1)).toBe(22_000));
      const departAt = inH(3);
      expect(await cp.notifyEVChargingNeeds(1, { energyWh: 30_000, departureTime: departAt })).toBe(
        "Accepted",
      );
      // The car says it once; the gateway sends it again after the timeout, and the second is taken.
      await eventually(
        async () =>
          expect(await grid.operator.findVehicleSession.query({ vehicleId: "ocpp:ev-lost" })).toMatchObject({
            energyKwh: 30,
            departAt: new Date(Date.parse(departAt)).toISOString(),
          }),
        { timeoutMs: 20_000 }, // a hang guard: the timeout's 2 s, then the next call
      );
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      hung.resolve();
    }
  });
});
