import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { readEnv } from "../src/env.ts";

const repoRoot = resolve(import.meta.dir, "../../..");
const TOKEN = { SERVICE_TOKEN: "substation-env-test-token-0123456789" };

describe("journal settings", () => {
  test("defaults: keys honoured 24 h, sessions kept 48 h, no size cap", () => {
    const env = readEnv(TOKEN);
    expect([env.IDEMPOTENCY_TTL_H, env.SUBSTATION_RETENTION_H, env.SUBSTATION_JOURNAL_MAX_MB]).toEqual([
      24,
      48,
      undefined,
    ]);
  });

  test("group commit: one event-loop turn by default; a window and a size bound are settable", () => {
    const env = readEnv(TOKEN);
    expect([env.SUBSTATION_COMMIT_WINDOW_MS, env.SUBSTATION_COMMIT_MAX_EVENTS]).toEqual([0, 1000]);
    const set = readEnv({ ...TOKEN, SUBSTATION_COMMIT_WINDOW_MS: "2", SUBSTATION_COMMIT_MAX_EVENTS: "64" });
    expect([set.SUBSTATION_COMMIT_WINDOW_MS, set.SUBSTATION_COMMIT_MAX_EVENTS]).toEqual([2, 64]);
  });

  test("a retention shorter than the idempotency TTL is refused at start, saying why", async () => {
    const proc = Bun.spawn([process.execPath, "apps/substation/src/main.ts"], {
      cwd: repoRoot,
      env: { ...process.env, ...TOKEN, PORT: "0", SUBSTATION_RETENTION_H: "12", IDEMPOTENCY_TTL_H: "24" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain("SUBSTATION_RETENTION_H: must be at least IDEMPOTENCY_TTL_H");
  });
});
