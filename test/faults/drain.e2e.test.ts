/**
 * Drain and SIGTERM with real processes: a drained substation takes no new sessions while its existing ones
 * run to their end; SIGTERM ends it promptly and its sessions are there after a restart.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { internalClient } from "@evgrid/link";
import { eventually, spawnListening, startGrid } from "@evgrid/testing";

setDefaultTimeout(60_000);
const BUN = process.execPath;

describe("drain and SIGTERM", () => {
  test("a drained substation takes no new sessions, its existing ones run to their end, undrain brings it back", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const [one] = grid.substations;
    const auth = { authorization: `Bearer ${grid.serviceToken}`, "content-type": "application/json" };
    const setDraining = (draining: boolean) =>
      fetch(`${one?.url}/trpc/setDraining`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ draining }),
      });

    // A short session on substation-1, then drain it.
    const early = await grid.client.requestCharge.mutate({ vehicleId: "early", durationS: 0.6 });
    const onOne =
      early.substationId === "substation-1"
        ? early
        : await grid.client.requestCharge.mutate({ vehicleId: "early-2", durationS: 0.6 });
    expect(onOne.substationId).toBe("substation-1");
    expect((await setDraining(true)).status).toBe(200);

    const grants = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        grid.client.requestCharge.mutate({ vehicleId: `ev-${i}`, durationS: 60 }),
      ),
    );
    expect(new Set(grants.map((g) => g.substationId))).toEqual(new Set(["substation-2"]));
    // Its session runs on (a busy machine may have seen its 0.6 s pass already: then it ended on time).
    const running = one?.station.get(onOne.sessionId);
    expect(running?.status === "active" || running?.endReason === "time_elapsed").toBe(true);
    // The balancer shows it draining once it has read its load again (a refresh, or the refusal).
    await eventually(async () => {
      const status = await grid.client.gridStatus.query();
      expect(status.substations.find((s) => s.substationId === "substation-1")?.load?.draining).toBe(true);
    });

    await eventually(() =>
      expect(one?.station.get(onOne.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" }),
    );

    await setDraining(false);
    // The balancer learns it at its next background refresh.
    await eventually(async () => {
      const members = await grid.operator.listSubstations.query();
      expect(members.find((m) => m.substationId === "substation-1")?.load?.draining).toBe(false);
    });
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        grid.client.requestCharge.mutate({ vehicleId: `later-${i}`, durationS: 60 }),
      ),
    );
    expect(after.some((g) => g.substationId === "substation-1")).toBe(true);
  });

  test("SIGTERM: the substation exits 0 promptly and its sessions are there after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "evgrid-sigterm-"));
    const env = {
      SERVICE_TOKEN: randomBytes(24).toString("base64url"),
      SUBSTATION_ID: "substation-1",
      SUBSTATION_DB_PATH: join(dir, "s.sqlite"),
      PORT: "0",
    };
    try {
      const first = await spawnListening([BUN, "apps/substation/src/main.ts"], env);
      const client = internalClient<import("@evgrid/substation").SubstationRouter>(first.url, {
        timeoutMs: 2000,
        token: env.SERVICE_TOKEN,
      });
      const { session } = await client.startSession.mutate({ vehicleId: "ev", durationS: 600 });
      first.proc.kill("SIGTERM");
      expect(await first.proc.exited).toBe(0); // promptly: before the test's timeout, however slow the machine

      const second = await spawnListening([BUN, "apps/substation/src/main.ts"], env);
      const again = internalClient<import("@evgrid/substation").SubstationRouter>(second.url, {
        timeoutMs: 2000,
        token: env.SERVICE_TOKEN,
      });
      expect(await again.getSession.query({ sessionId: session.sessionId })).toMatchObject({
        status: "active",
      });
      // SIGTERM's drain is not remembered: the restarted substation takes sessions again.
      expect((await again.getLoad.query()).draining).toBe(false);
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
