/** `bun run charger`: a simulated charge point a user can run against the gateway. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, runScript, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

const runCharger = (args: string[]) => runScript("charger", args);

describe("bun run charger", () => {
  test("--help explains it; a missing id or a bad protocol is exit 2 naming the flag", async () => {
    const help = await runCharger(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: bun run charger");
    const missing = await runCharger(["--password", "x"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--id: is required");
    const bad = await runCharger(["--id", "a", "--password", "x", "--protocol", "ocpp3"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--protocol");
  });

  test("claims a booking with its idTag: prints the power the grid gives it, and a second charger's arrival lowers it", async () => {
    await using grid = await startGrid({ capacitiesKw: [16] });
    await using ocpp = await startOcppGateway(grid);
    const password = "charger-cli-password";
    await ocpp.admin.registerChargePoint.mutate({
      chargePointId: "cp-cli",
      substationId: "substation-1",
      password,
      maxKw: 11,
    });
    // Booked through the public API: the owner is told the idTag to present at the charger.
    const booking = await grid.client.requestCharge.mutate({ vehicleId: "ev-cli", durationS: 600 });
    const run = runCharger([
      "--url",
      ocpp.gateway.ocppUrl,
      "--id",
      "cp-cli",
      "--password",
      password,
      "--id-tag",
      booking.idTag,
      "--meter-every-s",
      "0.5",
      "--duration-s",
      "4",
    ]);
    // Once it has been sent its first limit (not after a fixed pause: a busy machine starts it slowly),
    // another vehicle arrives: 16 kW shared, 8 each.
    await eventually(
      async () => {
        const cp = (await ocpp.admin.listChargePoints.query()).find((c) => c.chargePointId === "cp-cli");
        expect(cp?.transactions[0]).toMatchObject({ sessionId: booking.sessionId, profileW: 11_000 });
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    const other = await ocpp.charger("cp-other");
    await other.startTransaction(1, "ev-other");
    const { stdout, code } = await run;
    expect(code).toBe(0);
    expect(stdout).toContain(`vehicle plugged in, idTag ${booking.idTag}`);
    expect(stdout).toMatch(/power limit 11\.00 kW[\s\S]*power limit 8\.00 kW/);
    expect(stdout).toMatch(/transaction ended, 0\.0\d\d kWh/);
  });

  test("a wrong password is a clear error, exit 1", async () => {
    await using grid = await startGrid({ capacitiesKw: [16] });
    await using ocpp = await startOcppGateway(grid);
    const { stderr, code } = await runCharger([
      "--url",
      ocpp.gateway.ocppUrl,
      "--id",
      "cp-x",
      "--password",
      "nope",
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain("check the id and password");
  });
});
