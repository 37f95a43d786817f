/**
 * The OCPP gateway killed with SIGKILL while chargers charge: their sessions keep their power at the
 * substation, the chargers reconnect with back-off to the restarted gateway, and their transactions resume
 * bound to the same sessions, with power pushed again.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  eventually,
  freePort,
  SimulatedChargePoint,
  spawnListening,
  startGrid,
  tempDir,
} from "@evgrid/testing";

setDefaultTimeout(60_000);

test("kill -9 of the gateway: chargers reconnect, sessions resume, power keeps following the shares", async () => {
  using dir = tempDir("evgrid-ocpp-");
  await using grid = await startGrid({ capacitiesKw: [20] });
  const ocppPort = freePort();
  const env = {
    HOST: "127.0.0.1",
    PORT: "0",
    OCPP_PORT: String(ocppPort),
    BALANCER_URL: grid.balancer.url,
    SERVICE_TOKEN: grid.serviceToken,
    OCPP_DB_PATH: join(dir.path, "gateway.sqlite"),
    OCPP_OFFLINE_GRACE_S: "30",
  };
  const start = () => spawnListening([process.execPath, "apps/ocpp-gateway/src/main.ts"], env);
  let gateway = await start();
  const admin = async (procedure: string, input: unknown) => {
    const res = await fetch(`${gateway.url}/trpc/${procedure}`, {
      method: "POST",
      headers: { authorization: `Bearer ${grid.serviceToken}`, "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(200);
  };
  const password = "kill-nine-password-1";
  const chargers = await Promise.all(
    (["ocpp1.6", "ocpp2.0.1"] as const).map(async (protocol, i) => {
      await admin("registerChargePoint", {
        chargePointId: `cp-${i}`,
        substationId: "substation-1",
        password,
        maxKw: 11,
      });
      const cp = new SimulatedChargePoint({
        url: `ws://127.0.0.1:${ocppPort}/ocpp`,
        id: `cp-${i}`,
        password,
        protocol,
      });
      await cp.connect();
      return cp;
    }),
  );
  const [a, b] = chargers as [SimulatedChargePoint, SimulatedChargePoint];
  try {
    const booked = await grid.client.requestCharge.mutate({ vehicleId: "ev-booked", durationS: 600 });
    await a.startTransaction(1, booked.idTag);
    await b.startTransaction(1, "ev-walk-in");
    await eventually(() => expect([a.limit(1), b.limit(1)]).toEqual([10_000, 10_000]));
    const active = () =>
      grid.substations[0]?.station
        .list("active", 10)
        .map((s) => s.sessionId)
        .sort();
    const before = active();

    gateway.proc.kill("SIGKILL");
    await gateway.proc.exited;
    // The grid does not notice: the sessions keep their power.
    await Bun.sleep(500);
    expect(active()).toEqual(before);

    const resentA = a.nextProfile(1, (w) => w === 10_000, 15_000);
    const resentB = b.nextProfile(1, (w) => w === 10_000, 15_000);
    gateway = await start();
    expect(gateway.stdout()).toContain('"resumedTransactions":2');
    await Promise.all([resentA, resentB]);
    expect(active()).toEqual(before);

    // Power events flow again: the booked vehicle is stopped, its charger told to stop, the other gets 11 kW.
    const raised = b.nextProfile(1, (w) => w === 11_000, 5000);
    await grid.client.stopCharge.mutate({ sessionId: booked.sessionId, sessionSecret: booked.sessionSecret });
    await raised;
    await eventually(() => expect(a.stopsAsked.length).toBe(1));
    expect(await gateway.stop()).toBe(0);
  } finally {
    await Promise.all(chargers.map((c) => c.close()));
    await gateway[Symbol.asyncDispose]();
  }
});
