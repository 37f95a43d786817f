import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cpuMs, spawnApp, tempDir } from "@evgrid/testing";

const TOKEN = "substation-process-test-token-0123";

describe("timers armed from input (issue 8, point 2)", () => {
  test("a session that ends in 1000 hours leaves the substation idle and silent", async () => {
    using dir = tempDir("evgrid-timer-");
    await using sub = await spawnApp("substation", {
      SERVICE_TOKEN: TOKEN,
      SUBSTATION_DB_PATH: join(dir.path, "substation.sqlite"),
    });
    // 1000 kWh at 1 kW: the energy goal is 3.6e9 ms away, beyond setTimeout's 2^31-1 ms.
    const started = await sub.call("startSession", { vehicleId: "spin-1", maxKw: 1, energyKwh: 1000 });
    expect(started.status).toBe(200);
    // And a time-based one at the 24 h maximum, to cover the other kind of end.
    expect((await sub.call("startSession", { vehicleId: "day-1", durationS: 86_400 })).status).toBe(200);

    const windowS = 2;
    const before = await cpuMs(sub.pid);
    await Bun.sleep(windowS * 1000); // the window in which CPU is measured, not a wait for something
    const usedMs = (await cpuMs(sub.pid)) - before;
    const warnings = sub.stderr().split("TimeoutOverflowWarning").length - 1;
    console.log(
      `substation over ${windowS} s with the session running: ${usedMs} ms of CPU, ${warnings} warnings`,
    );

    expect(usedMs).toBeLessThan(0.05 * windowS * 1000); // under 5 % of one core (it spun at 12 %)
    expect(sub.stderr()).not.toContain("TimeoutOverflowWarning");
    // Still charging: the long timer did not fire early either.
    const session = await sub.call(
      `getSession?input=${encodeURIComponent(JSON.stringify({ sessionId: started.json.result.data.session.sessionId }))}`,
    );
    expect(session.json.result.data).toMatchObject({ status: "active", allocatedKw: 1 });
    expect(await sub.stop()).toBe(0);
  }, 20_000);
});
