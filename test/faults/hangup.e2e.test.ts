/**
 * Every app's terminal closed (SIGHUP) stops it as SIGTERM does: its graceful stop runs (journals and
 * registries closed, sessions kept) and it exits 0, instead of dying of the signal mid-write.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { spawnApp, startGrid, tempDir } from "@evgrid/testing";

setDefaultTimeout(60_000);

const token = () => randomBytes(24).toString("base64url");

/** SIGHUP, then its exit: its code (null if the signal killed it) and the signal that did. */
async function hangUp(app: { proc: Bun.Subprocess }) {
  app.proc.kill("SIGHUP");
  const code = await app.proc.exited;
  return { code, signal: app.proc.signalCode };
}

describe("SIGHUP stops an app as SIGTERM does", () => {
  test("substation: exits 0 with its journal closed, and its session is there after a restart", async () => {
    using dir = tempDir("evgrid-hangup-substation-");
    const db = join(dir.path, "s.sqlite");
    const env = { SERVICE_TOKEN: token(), SUBSTATION_ID: "substation-1", SUBSTATION_DB_PATH: db };
    const client = (url: string) =>
      internalClient<SubstationRouter>(url, { timeoutMs: 5000, token: env.SERVICE_TOKEN });
    let sessionId: string;
    {
      await using first = await spawnApp("substation", env);
      ({
        session: { sessionId },
      } = await client(first.url).startSession.mutate({ vehicleId: "ev", durationS: 600 }));
      expect(existsSync(`${db}-wal`)).toBe(true); // open, being written
      expect(await hangUp(first)).toEqual({ code: 0, signal: null });
    }
    // Closed by its stop: SQLite folds the write-ahead log into the journal and removes it.
    expect(existsSync(`${db}-wal`)).toBe(false);
    await using second = await spawnApp("substation", env);
    expect(await client(second.url).getSession.query({ sessionId })).toMatchObject({ status: "active" });
  });

  test("balancer and charge-api: exit 0", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    await using balancer = await spawnApp("balancer", {
      SERVICE_TOKEN: grid.serviceToken,
      SUBSTATION_URLS: grid.substations.map((s) => s.url).join(","),
    });
    await using api = await spawnApp("charge-api", {
      SERVICE_TOKEN: grid.serviceToken,
      BALANCER_URL: balancer.url,
    });
    expect(await hangUp(api)).toEqual({ code: 0, signal: null });
    expect(await hangUp(balancer)).toEqual({ code: 0, signal: null });
  });

  test("ocpp-gateway: exits 0 with its registry closed", async () => {
    await using grid = await startGrid({ capacitiesKw: [50] });
    using dir = tempDir("evgrid-hangup-gateway-");
    const db = join(dir.path, "gateway.sqlite");
    await using gateway = await spawnApp("ocpp-gateway", {
      SERVICE_TOKEN: grid.serviceToken,
      BALANCER_URL: grid.balancer.url,
      OCPP_PORT: "0",
      OCPP_DB_PATH: db,
    });
    const registered = await gateway.call("registerChargePoint", {
      chargePointId: "cp-1",
      substationId: "substation-1",
      password: "a-password-long-enough",
      maxKw: 11,
    });
    expect(registered.status).toBe(200);
    expect(existsSync(`${db}-wal`)).toBe(true);
    expect(await hangUp(gateway)).toEqual({ code: 0, signal: null });
    expect(existsSync(`${db}-wal`)).toBe(false);
  });
});
