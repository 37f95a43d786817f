import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "@evgrid/testing";
import { ARGON2_DEFAULTS, Registry } from "../src/registry.ts";

const cheap = { argon2: { ...ARGON2_DEFAULTS, memoryKib: 1024, timeCost: 1 } };

test("a charger caught drawing over its limit stays caught across a restart and a new registration, until cleared", async () => {
  using dir = tempDir("evgrid-registry-");
  const path = join(dir.path, "registry.sqlite");
  // A registry from before catches were kept (and before connectors were counted).
  const old = new Database(path, { create: true });
  old.run(`CREATE TABLE charge_points (id TEXT PRIMARY KEY, substation_id TEXT NOT NULL,
    password_hash TEXT NOT NULL, max_kw REAL NOT NULL, booted_at INTEGER)`);
  old.run("INSERT INTO charge_points VALUES ('cp-old', 'substation-1', 'x', 22, NULL)");
  old.close();

  let registry = new Registry(path, cheap);
  expect(registry.get("cp-old")).toMatchObject({ connectors: 2, overdrawnAt: null });
  registry.markOverdrawn("cp-old", 1_000);
  registry.markOverdrawn("cp-old", 2_000); // the first catch is the one kept
  registry.close();

  registry = new Registry(path, cheap);
  await registry.register({
    chargePointId: "cp-old",
    substationId: "substation-2",
    password: "a-new-password-of-the-charger",
    maxKw: 11,
    connectors: 1,
  });
  expect(registry.get("cp-old")).toMatchObject({ substationId: "substation-2", overdrawnAt: 1_000 });
  expect(registry.clearOverdrawn("cp-old")).toBe(true);
  expect(registry.clearOverdrawn("cp-old")).toBe(false);
  expect(registry.get("cp-old")?.overdrawnAt).toBeNull();
  registry.close();
});
