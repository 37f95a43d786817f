import type { Database, Statement } from "bun:sqlite";
import {
  EVENT_COLUMNS_ADDED,
  EVENTS_SCHEMA,
  type EventKind,
  type eventParams,
  INSERT_EVENT,
} from "./journal-events.ts";
import { fromRow, type Row, type SessionRecord } from "./journal-rows.ts";

/**
 * The journal's one insert (of an event), on its tables, made if new. A journal made before a column of
 * `events` was added gets it (empty in every row already there: what such a row meant before, see fromRow):
 * a write, which a full disk refuses. Then the journal opens without it, as a full journal (reads answered,
 * writes refused: a restart on a full journal comes up), and each write first tries again (`ready`).
 */
export class EventInsert {
  private stmt: Statement | undefined;

  constructor(private readonly db: Database) {
    db.exec(EVENTS_SCHEMA);
    try {
      this.ready();
    } catch {}
  }

  /**
   * Adds the columns missing, once; throws if the journal cannot take them. Outside a transaction only: one
   * rolled back would take them back from under the prepared insert.
   */
  ready(): void {
    if (this.stmt) return;
    const columns = this.db.query("PRAGMA table_info(events)").all() as { name: string }[];
    for (const [name, type] of EVENT_COLUMNS_ADDED) {
      if (!columns.some((c) => c.name === name))
        this.db.exec(`ALTER TABLE events ADD COLUMN ${name} ${type}`);
    }
    this.stmt = this.db.prepare(INSERT_EVENT);
  }

  run(params: ReturnType<typeof eventParams>): void {
    if (!this.stmt) throw new Error("the journal is full: its new columns could not be added yet");
    this.stmt.run(params);
  }
}

/** Old rows moved per transaction: the conversion needs room for this many more, not for a second journal. */
const BATCH = 500;

/**
 * A journal written before the log (one `sessions` row per session, updated in place) becomes events, once:
 * exported ended sessions, then the rest of the ended ones, then the active ones as starts with the energy of
 * their last checkpoint. In batches, each one transaction that takes its rows out of the old table and
 * appends them (their pages freed first, for the events to reuse): a journal near its size cap converts
 * within it, and one interrupted midway goes on where it stopped at the next start. The export's position
 * follows the exported ones; the old table goes once empty.
 */
export function convertSessionsTable(
  db: Database,
  append: (kind: EventKind, atMs: number, rec: SessionRecord) => number,
): void {
  const old = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get();
  if (!old) return;
  const columns = (db.query("PRAGMA table_info(sessions)").all() as { name: string }[]).map((c) => c.name);
  const exportedCol = columns.includes("cdr_exported") ? "cdr_exported" : "0";
  const batchOf = (exported: number, status: string) =>
    db
      .query(
        `SELECT rowid AS old_rowid, * FROM sessions WHERE status = $status AND ${exportedCol} = $exported
         ORDER BY ${status === "ended" ? "ended_at_ms" : "started_at_ms"}, rowid LIMIT ${BATCH}`,
      )
      .all({ status, exported }) as (Row & { old_rowid: number })[];
  const take = db.query("DELETE FROM sessions WHERE rowid = $rowid");
  const move = db.transaction((exported: number, status: string): number => {
    const rows = batchOf(exported, status);
    for (const r of rows) take.run({ rowid: r.old_rowid });
    let last = 0;
    for (const rec of rows.map(fromRow)) {
      last =
        status === "ended"
          ? append("end", rec.endedAtMs ?? rec.startedAtMs, rec)
          : append("start", rec.startedAtMs, rec);
    }
    if (exported === 1 && last > 0)
      db.query("INSERT OR REPLACE INTO settings (key, value) VALUES ('cdr_exported_seq', $v)").run({
        v: String(last),
      });
    return rows.length;
  });
  for (const [exported, status] of [
    [1, "ended"],
    [0, "ended"],
    [0, "active"],
  ] as const) {
    while (move(exported, status) === BATCH) {}
  }
  db.exec("DROP TABLE sessions");
}
