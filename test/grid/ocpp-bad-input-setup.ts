/** The OCPP endpoint's hostile-charger tests: a grid of one 40 kW substation, its gateway, one raw charger. */
import { startGrid, startOcppGateway } from "@evgrid/testing";
import { RawCharger } from "./ocpp-raw.ts";

export async function setUp(env: Record<string, string> = {}) {
  const grid = await startGrid({ capacitiesKw: [40] });
  const ocpp = await startOcppGateway(grid, env);
  const password = "a-long-enough-password";
  await ocpp.admin.registerChargePoint.mutate({
    chargePointId: "cp-raw",
    substationId: "substation-1",
    password,
    maxKw: 11,
  });
  return {
    grid,
    ocpp,
    password,
    raw: (protocol = "ocpp1.6") => RawCharger.open(ocpp.gateway.ocppUrl, "cp-raw", password, protocol),
    /** Another charge point, registered and booted over 2.0.1. */
    async booted201(id: string) {
      await ocpp.admin.registerChargePoint.mutate({
        chargePointId: id,
        substationId: "substation-1",
        password,
        maxKw: 11,
      });
      const c = await RawCharger.open(ocpp.gateway.ocppUrl, id, password, "ocpp2.0.1");
      await c.call("BootNotification", {
        reason: "PowerUp",
        chargingStation: { model: "raw", vendorName: "evgrid" },
      });
      return c;
    },
    async [Symbol.asyncDispose]() {
      await ocpp[Symbol.asyncDispose]();
      await grid[Symbol.asyncDispose]();
    },
  };
}

export const boot16 = { chargePointVendor: "evgrid", chargePointModel: "raw" };
