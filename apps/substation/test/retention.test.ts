import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { CdrExport, type ChargeDetailRecord } from "../src/cdr.ts";
import { Journal, QUERIES } from "../src/journal.ts";
import { JournalHealth, type JournalOp } from "../src/journal-writes.ts";
import { Retention } from "../src/retention.ts";
import { Station } from "../src/station.ts";
import { nextTurn, open, tempDir } from "./fixtures.ts";

const HOUR_MS = 3_600_000;

/** A station and its retention on a fresh journal, on a clock the test moves. */
function boot(opts: { retentionH?: number; batchRows?: number; budgetMs?: number; cdrDir?: string } = {}) {
  const dir = tempDir("evgrid-retention-");
  const path = join(dir, "substation.sqlite");
  const clock = { ms: Date.parse("2030-05-01T23:00:00Z") };
  const journal = new Journal(path);
  const errors: Partial<Record<JournalOp, number>> = {};
  const health = new JournalHealth({ count: (op) => (errors[op] = (errors[op] ?? 0) + 1) });
  const station = new Station({ id: "sub-a", capacityKw: 10_000, journal, now: () => clock.ms });
  const cdrDir = opts.cdrDir ?? join(dir, "cdr");
  const cdr = new CdrExport(cdrDir, "sub-a", journal);
  const retention = new Retention({
    journal,
    retentionMs: (opts.retentionH ?? 1) * HOUR_MS,
    cdr,
    health,
    now: () => clock.ms,
    batchRows: opts.batchRows ?? 500,
    // The tick's time budget is wall time: a loaded machine would end a tick early. Tests that count what
    // one tick does give it no budget; the budget has its own test.
    budgetMs: opts.budgetMs ?? Number.POSITIVE_INFINITY,
  });
  open.push(cdr, station, journal); // the export lets go of its thread: the last one stops it
  /** Starts and stops `n` sessions (ended now), and lets the journal take the last end. */
  const endSessions = async (n: number, prefix: string) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { session } = await station.start(
        dispatchRequestSchema.parse({ vehicleId: `${prefix}-${i}`, durationS: 60, owner: "addr:10.0.0.1" }),
      );
      station.stop(session.sessionId);
      ids.push(session.sessionId);
    }
    await nextTurn(); // the group commit of the last stop's turn
    return ids;
  };
  const rows = () => journal.recentlyEnded(1_000_000).length;
  /** Every record in the CDR directory, in file order. */
  const records = (): ChargeDetailRecord[] =>
    readdirSync(cdrDir)
      .sort()
      .flatMap((f) =>
        readFileSync(join(cdrDir, f), "utf8")
          .split("\n")
          .filter((l) => l.length > 0)
          .map((l) => JSON.parse(l)),
      );
  return { path, dir, cdrDir, clock, journal, station, retention, errors, endSessions, rows, records };
}

describe("retention and charge detail records (issue 8, point 7)", () => {
  test("ended sessions are exported as JSON Lines, one file a day, and deleted only after the retention", async () => {
    const t = boot({ retentionH: 1 });
    const before = await t.endSessions(3, "late-may"); // 23:00 on 1 May
    t.clock.ms += 2 * HOUR_MS; // 01:00 on 2 May
    const after = await t.endSessions(2, "june");
    expect(await t.retention.tick()).toEqual({ exported: 5, pruned: 3 });

    expect(readdirSync(t.cdrDir).sort()).toEqual(["sub-a-2030-05-01.jsonl", "sub-a-2030-05-02.jsonl"]);
    const first = t.records()[0];
    expect(first).toEqual({
      sessionId: before[0] as string,
      substationId: "sub-a",
      vehicleId: "late-may-0",
      owner: "addr:10.0.0.1",
      startedAt: "2030-05-01T23:00:00.000Z",
      endedAt: "2030-05-01T23:00:00.000Z",
      deliveredKwh: 0,
      endReason: "stopped",
    });
    expect(t.records().map((r) => r.sessionId)).toEqual([...before, ...after]);
    // The ones within the retention stay in the journal; the older ones are gone from it, not from the CDRs.
    expect(after.map((id) => t.journal.find(id)?.status)).toEqual(["ended", "ended"]);
    expect(before.map((id) => t.journal.find(id))).toEqual([null, null, null]);
    expect(await t.retention.tick()).toEqual({ exported: 0, pruned: 0 });
  });

  test("sessions ended after retention emptied the journal are exported too, before a restart and after", async () => {
    const t = boot({ retentionH: 1 });
    await t.endSessions(3, "night");
    t.clock.ms += 2 * HOUR_MS;
    expect(await t.retention.tick()).toEqual({ exported: 3, pruned: 3 });
    await t.endSessions(2, "morning");
    expect(await t.retention.tick()).toEqual({ exported: 2, pruned: 0 });
    // Emptied again, then a restart: the log goes on after the export's position.
    t.clock.ms += 2 * HOUR_MS;
    expect(await t.retention.tick()).toEqual({ exported: 0, pruned: 2 });
    t.station.close();
    t.journal.close();
    const journal = new Journal(t.path);
    const station = new Station({ id: "sub-a", capacityKw: 10_000, journal, now: () => t.clock.ms });
    open.push(station, journal);
    const { session } = await station.start(
      dispatchRequestSchema.parse({ vehicleId: "noon", durationS: 60 }),
    );
    station.stop(session.sessionId);
    await nextTurn();
    const cdr = new CdrExport(t.cdrDir, "sub-a", journal);
    expect(await cdr.exportBatch(10)).toBe(1);
    cdr.close();
    expect(t.records().map((r) => r.vehicleId)).toEqual([
      "night-0",
      "night-1",
      "night-2",
      "morning-0",
      "morning-1",
      "noon",
    ]);
  });

  test("a session that cannot be exported is kept, and exported and pruned once it can", async () => {
    const dir = tempDir("evgrid-cdr-");
    const blocked = join(dir, "cdr");
    writeFileSync(blocked, "a file where the directory should be"); // writes fail like a full disk
    const t = boot({ retentionH: 1, cdrDir: blocked });
    const ids = await t.endSessions(4, "ev");
    t.clock.ms += 2 * HOUR_MS;
    expect(await t.retention.tick()).toEqual({ exported: 0, pruned: 0 });
    expect(await t.retention.tick()).toEqual({ exported: 0, pruned: 0 });
    expect(t.errors.export).toBe(2);
    expect(t.rows()).toBe(4);

    rmSync(blocked);
    mkdirSync(blocked);
    expect(await t.retention.tick()).toEqual({ exported: 4, pruned: 4 });
    expect(t.records().map((r) => r.sessionId)).toEqual(ids);
  });

  test("at least once: lines written but not marked are written again, and the session id dedupes them", async () => {
    const t = boot({ retentionH: 1 });
    const ids = await t.endSessions(3, "ev");
    const mark = t.journal.markExported.bind(t.journal);
    t.journal.markExported = () => {
      throw new Error("crash between append and mark");
    };
    await t.retention.tick();
    t.journal.markExported = mark;
    t.clock.ms += 2 * HOUR_MS;
    expect(await t.retention.tick()).toEqual({ exported: 3, pruned: 3 });
    const seen = t.records().map((r) => r.sessionId);
    expect(seen).toHaveLength(6);
    expect([...new Set(seen)]).toEqual(ids);
  });

  test("pruning goes in small batches, yielding to the event loop between them", async () => {
    const t = boot({ retentionH: 1, batchRows: 10 });
    await t.endSessions(45, "ev");
    t.clock.ms += 2 * HOUR_MS;
    let turns = 0;
    let ticking = true;
    const other = () => {
      turns += 1;
      if (ticking) setImmediate(other);
    };
    setImmediate(other);
    const done = await t.retention.tick();
    ticking = false;
    expect(done).toEqual({ exported: 45, pruned: 45 });
    // 5 export and 5 prune batches of at most 10 rows, other work running in between.
    expect(turns).toBeGreaterThanOrEqual(4);
    expect(t.rows()).toBe(0);
  });

  test("a tick stops once its time budget is spent, and the next tick goes on where it stopped", async () => {
    // A budget of 0 is spent after the first batch, whatever the machine's speed.
    const t = boot({ retentionH: 1, batchRows: 10, budgetMs: 0 });
    await t.endSessions(25, "ev");
    t.clock.ms += 2 * HOUR_MS;
    // The export (its own thread) is not held to the budget; pruning goes a batch a tick.
    const ticks = [];
    for (let i = 0; i < 3; i++) ticks.push(await t.retention.tick());
    expect(ticks).toEqual([
      { exported: 25, pruned: 10 },
      { exported: 0, pruned: 10 },
      { exported: 0, pruned: 5 },
    ]);
    expect(t.rows()).toBe(0);
  });

  test("recovery, key lookups, export and pruning read through indexes or a range of the log, never a whole scan", async () => {
    const t = boot();
    await t.endSessions(50, "ev");
    t.station.checkpoint();
    const db = new Database(t.path, { readonly: true });
    open.push(db);
    // No ANALYZE: a substation's journal has no statistics either, so these are the plans it runs.
    const plan = (sql: string) => {
      const params: Record<string, string | number> = {};
      for (const [, name] of sql.matchAll(/\$(\w+)/g)) params[`$${name}`] = name === "owner" ? "o" : 1;
      return (db.query(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail);
    };
    const plans = Object.fromEntries(Object.entries(QUERIES).map(([name, sql]) => [name, plan(sql)]));
    console.log(plans);
    // Lookups by session, by key, of the last checkpoint: each through its partial index.
    expect(plans.endById?.join()).toContain("USING INDEX events_end_by_session");
    expect(plans.endByKey?.join()).toContain("USING INDEX events_end_by_key");
    expect(plans.anyEndByKey?.join()).toContain("USING COVERING INDEX events_end_by_key");
    expect(plans.lastCheckpoint?.join()).toContain("USING INDEX events_checkpoints");
    // Replay, export and pruning: a range of the rowid (the log's order), from a position on or up to one.
    for (const name of ["replay", "unexported", "prune"])
      expect({ name, plan: plans[name]?.join() }).toEqual({
        name,
        plan: expect.stringContaining("USING INTEGER PRIMARY KEY"),
      });
    // The only scans read from one end of the log in its order and stop at their LIMIT.
    for (const [name, steps] of Object.entries(plans)) {
      const scans = steps.filter((s) => /^SCAN events\b(?! USING)/.test(s));
      const fromAnEnd = /ORDER BY seq( DESC)? LIMIT/.test(QUERIES[name as keyof typeof QUERIES]);
      expect({ name, scans: fromAnEnd ? [] : scans }).toEqual({ name, scans: [] });
    }
    // No ORDER BY needs a temporary sort: the index order is the answer's order.
    expect(
      Object.values(plans)
        .flat()
        .filter((s) => s.includes("TEMP B-TREE")),
    ).toEqual([]);
  });
});
