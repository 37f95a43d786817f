/**
 * What the apps write to disk (substation journals with their -wal/-shm, charge detail records, the gateway's
 * registry of argon2 hashes) is readable by the apps' user only: 0600 files in 0700 directories, whatever
 * the umask (this machine's is 022). Real processes on a fresh data directory.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { eventually, metricValue, spawnApp, tempDir } from "@evgrid/testing";

setDefaultTimeout(30_000);

const TOKEN = "file-modes-test-token-0123456789abcdef";

/** Every directory and file under `root`, with its permission bits, as `path mode` lines. */
function modesUnder(root: string): { dirs: string[]; files: string[] } {
  const dirs: string[] = [];
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const line = `${relative(root, path)} ${(statSync(path).mode & 0o777).toString(8)}`;
      if (entry.isDirectory()) {
        dirs.push(line);
        walk(path);
      } else files.push(line);
    }
  };
  walk(root);
  return { dirs, files };
}

describe("data files", () => {
  test("journals, their -wal/-shm, charge detail records and the gateway registry: 0600 in 0700 directories", async () => {
    using tmp = tempDir("evgrid-file-modes-");
    const data = join(tmp.path, "data");
    await using sub = await spawnApp("substation", {
      SERVICE_TOKEN: TOKEN,
      SUBSTATION_DB_PATH: join(data, "substation", "substation-1.sqlite"),
      SUBSTATION_CAPACITY_KW: "100",
      // Ended sessions are exported (and pruned) within a second or so.
      SUBSTATION_RETENTION_H: String(1 / 3600),
      IDEMPOTENCY_TTL_H: String(1 / 3600),
    });
    await using gateway = await spawnApp("ocpp-gateway", {
      SERVICE_TOKEN: TOKEN,
      OCPP_PORT: "0",
      BALANCER_URL: "http://127.0.0.1:9",
      OCPP_DB_PATH: join(data, "gateway", "ocpp-gateway.sqlite"),
    });
    expect((await sub.call("startSession", { vehicleId: "ev-1", durationS: 0.2 })).status).toBe(200);
    const registered = await gateway.call("registerChargePoint", {
      chargePointId: "cp-modes",
      substationId: "substation-1",
      password: "a-password-of-20-chars",
      maxKw: 22,
    });
    expect(registered.status).toBe(200);
    await eventually(
      async () =>
        expect(metricValue(await sub.metrics(), "evgrid_substation_cdr_exported_sessions_total")).toBe(1),
      { timeoutMs: 15_000 },
    );

    const { dirs, files } = modesUnder(data);
    // Everything the apps made, while they run (the -wal and -shm files exist only then).
    expect(files.map((f) => f.split(" ")[0]).toSorted()).toEqual(
      expect.arrayContaining([
        "gateway/ocpp-gateway.sqlite",
        "gateway/ocpp-gateway.sqlite-wal",
        "gateway/ocpp-gateway.sqlite-shm",
        "substation/substation-1.sqlite",
        "substation/substation-1.sqlite-wal",
        "substation/substation-1.sqlite-shm",
        expect.stringMatching(/^substation\/cdr\/substation-1-\d{4}-\d{2}-\d{2}\.jsonl$/),
      ]),
    );
    expect(files.filter((f) => !f.endsWith(" 600"))).toEqual([]);
    expect(dirs.toSorted()).toEqual(["gateway 700", "substation 700", "substation/cdr 700"]);
    expect((statSync(data).mode & 0o777).toString(8)).toBe("700");
  });
});
