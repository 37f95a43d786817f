import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Journal } from "@evgrid/substation/journal";
import { eventually, metricValue, spawnApp, tempDir } from "@evgrid/testing";

const TOKEN = "substation-process-test-token-0123";

describe("a substation process with a short retention (issue 8, point 7)", () => {
  test("exports every ended session as a charge detail record, then deletes it from the journal", async () => {
    using dir = tempDir("evgrid-retention-process-");
    const path = join(dir.path, "journal", "substation.sqlite");
    const retentionS = 1;
    await using sub = await spawnApp("substation", {
      SERVICE_TOKEN: TOKEN,
      SUBSTATION_DB_PATH: path,
      SUBSTATION_CAPACITY_KW: "1000",
      SUBSTATION_RETENTION_H: String(retentionS / 3600),
      IDEMPOTENCY_TTL_H: String(retentionS / 3600),
    });
    const ids = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const r = await sub.call("startSession", { vehicleId: `ev-${i}`, durationS: 0.2 });
        return r.json.result.data.session.sessionId as string;
      }),
    );
    await eventually(
      async () =>
        expect(metricValue(await sub.metrics(), "evgrid_substation_journal_pruned_sessions_total")).toBe(
          ids.length,
        ),
      // A bound for a stuck journal, not a latency target: rounds run every second once sessions ended.
      { timeoutMs: 30_000 },
    );
    expect(metricValue(await sub.metrics(), "evgrid_substation_cdr_exported_sessions_total")).toBe(
      ids.length,
    );
    expect(await sub.stop()).toBe(0);

    // By default the records go next to the journal, one file a day.
    const cdrDir = join(dir.path, "journal", "cdr");
    const files = readdirSync(cdrDir);
    expect(files.every((f) => /^substation-1-\d{4}-\d{2}-\d{2}\.jsonl$/.test(f))).toBe(true);
    const records = files.flatMap((f) =>
      readFileSync(join(cdrDir, f), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    );
    expect(records.map((r) => r.sessionId).sort()).toEqual([...ids].sort());
    expect(records[0]).toMatchObject({
      substationId: "substation-1",
      owner: "operator",
      endReason: "time_elapsed",
    });
    const journal = new Journal(path);
    try {
      expect(journal.recentlyEnded(100)).toEqual([]);
    } finally {
      journal.close();
    }
  }, 45_000);
});
