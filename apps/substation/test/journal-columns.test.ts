/**
 * A journal made before a column of `events` was added gets it at open: a write. On a full disk that write
 * fails, and the journal must still open, as a full journal does (README: a restart on a full journal comes
 * up): reads answered, writes refused until there is room, the columns added then.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { Journal } from "../src/journal.ts";
import { dbPath, EVENTS_TABLE_V1, open } from "./fixtures.ts";

const CHILD = resolve(import.meta.dir, "journal-open-child.ts");

/** The child's answer for `path`, run with its files capped at `limitKb` (writes past it fail: a full disk). */
function openIn(path: string, limitKb?: number) {
  const limit = limitKb === undefined ? "" : `trap '' XFSZ; ulimit -f ${limitKb}; `;
  const run = Bun.spawnSync(["bash", "-c", `${limit}exec "$0" "$1" "$2"`, process.execPath, CHILD, path], {
    stderr: "pipe",
  });
  expect({ code: run.exitCode, stderr: run.stderr.toString() }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout.toString());
}

test("an older journal on a full disk opens without its new columns, and gets them once it can write", () => {
  const path = dbPath();
  const old = new Database(path, { create: true, strict: true });
  open.push(old);
  old.exec(`PRAGMA journal_mode = WAL; ${EVENTS_TABLE_V1}`);
  // One commit each: the write-ahead log grows past the limit below (as after a crash, never checkpointed).
  for (let i = 1; i <= 100; i++) {
    old
      .query(`INSERT INTO events (seq, kind, at_ms, session_id, vehicle_id, min_kw, max_kw, started_at_ms,
      duration_s, delivered_kwh, owner, priority) VALUES (?, 'start', 5000000, ?, ?, 1, 11, 5000000, 3600, 0,
      'operator', 'standard')`)
      .run(i, `sub-a.s${i}`, `ev-${i}`);
  }
  expect(openIn(path, 128)).toEqual({ opened: true, active: 100, admitted: "refused" });

  // Room again: the columns are added, and the journal writes (a moved end keeps its destination).
  expect(openIn(path)).toEqual({ opened: true, active: 101, admitted: "written" });
  const journal = new Journal(path);
  open.push(journal);
  journal.commit({
    ends: [
      {
        sessionId: "sub-a.s1",
        deliveredKwh: 1,
        endedAtMs: 5_100_000,
        endReason: "moved",
        movedToSubstationId: "sub-b",
      },
    ],
    starts: [],
    checkpoint: [],
  });
  expect(journal.find("sub-a.s1")).toMatchObject({ endReason: "moved", movedToSubstationId: "sub-b" });
});
