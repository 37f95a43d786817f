/**
 * A booking whose charger's meter reported energy, then its substation killed with SIGKILL and restarted from
 * its journal, then claimed at a charger of another substation: it goes on there with its energy less what
 * the meter reported, not its whole energy again (meteredKwh was not journaled: the restart forgot it).
 */
import { Database } from "bun:sqlite";
import { expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { BalancerRouter } from "@evgrid/balancer";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { eventually, spawnListening, startOcppGateway, tempDir } from "@evgrid/testing";

setDefaultTimeout(60_000);
const BUN = process.execPath;
const KEY = "key-owner-aaaaaaaaaaaa";
const NEWEST_CHECKPOINT = "SELECT metered FROM events WHERE kind = 'checkpoint' ORDER BY seq DESC LIMIT 1";

test("a booking's metered energy survives its substation's SIGKILL: claimed elsewhere after, it is owed the rest only", async () => {
  using dir = tempDir("evgrid-meter-restart-");
  const token = randomBytes(24).toString("base64url");
  const common = { SERVICE_TOKEN: token, LOG_QUIET: "false", ...UNLIMITED_QUOTAS };
  const substationEnv = (i: number, capacityKw: number, port = "0") => ({
    ...common,
    SUBSTATION_ID: `substation-${i}`,
    SUBSTATION_CAPACITY_KW: String(capacityKw),
    SUBSTATION_DB_PATH: join(dir.path, `substation-${i}.sqlite`),
    SUBSTATION_CHECKPOINT_MS: "200",
    PORT: port,
  });
  await using sub1 = await spawnListening([BUN, "apps/substation/src/main.ts"], substationEnv(1, 50));
  const sub2 = await spawnListening([BUN, "apps/substation/src/main.ts"], substationEnv(2, 100));
  await using _sub2 = sub2;
  await using balancer = await spawnListening([BUN, "apps/balancer/src/main.ts"], {
    ...common,
    PORT: "0",
    SUBSTATION_URLS: [sub1.url, sub2.url].join(","),
    LOAD_REFRESH_MS: "250",
  });
  await using api = await spawnListening([BUN, "apps/charge-api/src/main.ts"], {
    ...common,
    PORT: "0",
    BALANCER_URL: balancer.url,
    API_KEYS: KEY,
  });
  const owner = internalClient<ChargeApiRouter>(api.url, { timeoutMs: 10_000, token: KEY });
  const operator = internalClient<BalancerRouter>(balancer.url, { timeoutMs: 10_000, token });
  const site2 = internalClient<SubstationRouter>(sub2.url, { timeoutMs: 10_000, token });

  const booking = await owner.requestCharge.mutate({ vehicleId: "ev-owner", energyKwh: 20 });
  expect(booking.substationId).toBe("substation-2");
  // A charger at its own site metered 5 kWh for it (what the OCPP gateway reports), then the car left it.
  await site2.reportMeter.mutate({ sessionId: booking.sessionId, energyKwh: 5 });
  // Until the journal on disk holds the reading: its newest checkpoint's metered column ([startSeq, kWh, ...]).
  // (Counting commits after the report raced: the checkpoint with it could come before the first count, and
  // an unchanged checkpoint is not written again.)
  const journaledReadings = () => {
    const db = new Database(join(dir.path, "substation-2.sqlite"), { readonly: true });
    try {
      const row = db.query(NEWEST_CHECKPOINT).get() as { metered: string | null } | null;
      const pairs = JSON.parse(row?.metered ?? "[]") as number[];
      return pairs.filter((_, i) => i % 2 === 1);
    } finally {
      db.close();
    }
  };
  await eventually(() => expect(journaledReadings()).toEqual([5]));

  sub2.proc.kill("SIGKILL");
  await sub2.proc.exited;
  await using _again = await spawnListening(
    [BUN, "apps/substation/src/main.ts"],
    substationEnv(2, 100, new URL(sub2.url).port),
  );
  // Back in the grid, the booking still active there: what a charger presenting its idTag finds.
  await eventually(async () =>
    expect(await operator.findBooking.query({ idTag: booking.idTag })).toMatchObject({ status: "active" }),
  );

  await using ocpp = await startOcppGateway({ balancer: { url: balancer.url }, serviceToken: token });
  const cp = await ocpp.charger("cp-elsewhere", { substationId: "substation-1", maxKw: 22 });
  await cp.startTransaction(1, booking.idTag);
  const here = await ocpp.txSession("cp-elsewhere");
  expect(await owner.getSession.query({ sessionId: here })).toMatchObject({
    substationId: "substation-1",
    vehicleId: "ev-owner",
    energyKwh: 15,
  });
});
