import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { CdrExport } from "../src/cdr.ts";
import { Journal } from "../src/journal.ts";
import { convertSessionsTable } from "../src/journal-upgrade.ts";
import { JournalHealth } from "../src/journal-writes.ts";
import { Retention } from "../src/retention.ts";
import { Station } from "../src/station.ts";
import { nextTurn, open, tempDir } from "./fixtures.ts";

const HOUR_MS = 3_600_000;
const startReq = (vehicleId: string, shape: Record<string, unknown> = { durationS: 60 }) =>
  dispatchRequestSchema.parse({ vehicleId, ...shape });

/** The seq of every event left in the journal at `path`, in order. */
function seqs(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.query("SELECT seq FROM events WHERE kind != 'checkpoint' ORDER BY seq").all() as { seq: number }[]
    ).map((r) => r.seq);
  } finally {
    db.close();
  }
}

describe("retention by range of the log", () => {
  test("deletes the oldest events as one range; a session charging since before the retention is carried forward, not kept in the way", async () => {
    const dir = tempDir("evgrid-range-");
    const path = join(dir, "substation.sqlite");
    const clock = { ms: Date.parse("2030-05-01T10:00:00Z") };
    const journal = new Journal(path);
    const station = new Station({
      id: "sub-a",
      capacityKw: 10_000,
      journal,
      now: () => clock.ms,
      checkpointMs: 3_600_000,
    });
    const cdr = new CdrExport(join(dir, "cdr"), "sub-a", journal);
    open.push(cdr, station, journal);
    const retention = new Retention({
      journal,
      retentionMs: HOUR_MS,
      cdr,
      health: new JournalHealth(),
      now: () => clock.ms,
    });
    // The first event of the log: a session that charges all along.
    const long = (await station.start(startReq("long", { maxKw: 11, energyKwh: 500 }))).session;
    const stopMany = async (prefix: string, n: number) => {
      for (let i = 0; i < n; i++)
        station.stop((await station.start(startReq(`${prefix}-${i}`))).session.sessionId);
      await nextTurn();
    };
    await stopMany("old", 30);
    clock.ms += 2 * HOUR_MS;
    station.checkpoint(); // the long session's energy so far
    await nextTurn();
    const drawnKwh = station.get(long.sessionId).deliveredKwh;
    expect(drawnKwh).toBeGreaterThan(0);
    await stopMany("new", 5);
    const before = seqs(path);
    expect(before).toHaveLength(1 + 60 + 10);

    expect(await retention.tick()).toEqual({ exported: 35, pruned: 30 });
    const after = seqs(path);
    // What is left is one block at the end of the log: the 5 recent sessions and the long one's carried start.
    expect(after).toHaveLength(10 + 1);
    expect((after.at(-1) ?? 0) - (after[0] ?? 0) + 1).toBe(after.length);
    expect(after[0]).toBe(before.at(-10));

    // A restart finds the long session as it was, with the energy of its last checkpoint.
    station.close();
    journal.close();
    const again = new Journal(path);
    open.push(again);
    expect(again.active()).toEqual([
      expect.objectContaining({
        sessionId: long.sessionId,
        startedAtMs: Date.parse(long.startedAt),
        deliveredKwh: drawnKwh,
      }),
    ]);
  });
});

/** The journal's tables before the log: one row per session, updated in place. */
const OLD_TABLES = `
  CREATE TABLE sessions (session_id TEXT PRIMARY KEY, vehicle_id TEXT NOT NULL, min_kw REAL NOT NULL,
    max_kw REAL NOT NULL, started_at_ms INTEGER NOT NULL, duration_s REAL, energy_kwh REAL,
    delivered_kwh REAL NOT NULL DEFAULT 0, status TEXT NOT NULL, ended_at_ms INTEGER, end_reason TEXT,
    idempotency_key TEXT, owner TEXT, priority TEXT, cdr_exported INTEGER NOT NULL DEFAULT 0, depart_at_ms INTEGER);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);`;

describe("a journal written before the log", () => {
  test("becomes events once: the active session resumes with its energy, ended ones stay found, exported ones are not exported again", () => {
    const path = join(tempDir("evgrid-upgrade-"), "substation.sqlite");
    const old = new Database(path, { create: true });
    old.exec(OLD_TABLES);
    old.exec(`
      INSERT INTO settings VALUES ('limitKw', '40');
      INSERT INTO sessions VALUES ('a', 'ev-a', 4.2, 11, 1000, NULL, 30, 3.5, 'active', NULL, NULL, 'k-a', 'key:1', 'standard', 0, NULL);
      INSERT INTO sessions VALUES ('b', 'ev-b', 4.2, 11, 900, 600, NULL, 1.25, 'ended', 1500, 'stopped', NULL, NULL, NULL, 1, NULL);
      INSERT INTO sessions VALUES ('c', 'ev-c', 4.2, 11, 950, 600, NULL, 2, 'ended', 1600, 'time_elapsed', 'k-c', 'key:1', 'premium', 0, NULL);
    `);
    old.close();

    const journal = new Journal(path);
    open.push(journal);
    expect(journal.active()).toEqual([
      expect.objectContaining({
        sessionId: "a",
        deliveredKwh: 3.5,
        energyKwh: 30,
        idempotencyKey: "k-a",
        owner: "key:1",
      }),
    ]);
    expect(journal.find("b")).toMatchObject({ status: "ended", deliveredKwh: 1.25, owner: "operator" });
    expect(journal.findByKey("key:1", "k-c", 0)).toMatchObject({ sessionId: "c", endReason: "time_elapsed" });
    expect(journal.unexported(10).map((r) => r.sessionId)).toEqual(["c"]);
    expect(journal.getSetting("limitKw")).toBe("40");
    journal.close();
    // Once: a second open finds the log, not the old table, and the same sessions.
    const again = new Journal(path);
    open.push(again);
    expect(again.active().map((r) => r.sessionId)).toEqual(["a"]);
    expect(again.unexported(10).map((r) => r.sessionId)).toEqual(["c"]);
  });

  test("a full one converts under its size cap (passed by a batch at most): it comes up, every session found", () => {
    const path = join(tempDir("evgrid-upgrade-"), "substation.sqlite");
    const old = new Database(path, { create: true });
    old.exec(OLD_TABLES);
    const insert = old.prepare(
      "INSERT INTO sessions VALUES (?, ?, 4.2, 11, ?, 600, NULL, 1, ?, ?, ?, ?, 'key:1', 'standard', ?, NULL)",
    );
    const n = 4000;
    old.transaction(() => {
      for (let i = 0; i < n; i++) {
        const ended = i < n - 10;
        const id = `sub-a.${i.toString(16).padStart(32, "0")}`;
        insert.run(
          id,
          `ev-${i}`,
          1000 + i,
          ended ? "ended" : "active",
          ended ? 2000 + i : null,
          ended ? "stopped" : null,
          `key-${i}`,
          i < n / 2 ? 1 : 0,
        );
      }
    })();
    old.close();
    // The cap it ran under, and a full journal of the old kind sits at it: the conversion may pass it.
    const journal = new Journal(path, { maxMb: statSync(path).size / 1024 / 1024 });
    open.push(journal);
    expect(journal.active()).toHaveLength(10);
    expect(journal.find(`sub-a.${(0).toString(16).padStart(32, "0")}`)).toMatchObject({ status: "ended" });
    expect(journal.findByKey("key:1", `key-${n - 11}`, 0)).toMatchObject({ endReason: "stopped" });
    expect(journal.unexported(n).length).toBe(n / 2 - 10);
  });

  test("a conversion stopped midway goes on where it stopped: every old row once", () => {
    const db = new Database(":memory:");
    db.exec(OLD_TABLES);
    for (let i = 0; i < 1200; i++)
      db.run(
        "INSERT INTO sessions VALUES (?, 'ev', 4.2, 11, ?, 600, NULL, 1, 'ended', ?, 'stopped', NULL, NULL, NULL, 0, NULL)",
        [`s${i}`, i, i + 1],
      );
    const seen: string[] = [];
    const append = (_kind: string, _atMs: number, rec: { sessionId: string }) => seen.push(rec.sessionId);
    // The process dies in the middle of the second batch: that batch is rolled back, the first is kept.
    expect(() =>
      convertSessionsTable(db, (kind, atMs, rec) => {
        if (seen.length === 700) throw new Error("killed");
        return append(kind, atMs, rec);
      }),
    ).toThrow("killed");
    seen.length = 500; // what the rolled-back batch appended was never committed
    convertSessionsTable(db, append);
    expect(new Set(seen).size).toBe(1200);
    expect(seen).toHaveLength(1200);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'sessions'").get()).toBeNull();
  });
});
