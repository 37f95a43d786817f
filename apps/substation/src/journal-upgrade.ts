import type { Database } from "bun:sqlite";
import type { EventKind } from "./journal-events.ts";
import { fromRow, type Row, type SessionRecord } from "./journal-rows.ts";

/**
 * A journal written before the log (one `sessions` row per session, updated in place) becomes events, once,
 * in one transaction: exported ended sessions, then the export's position, then the rest of the ended ones,
 * then the active ones as starts with the energy of their last checkpoint. The old table goes with it.
 */
export function convertSessionsTable(
  db: Database,
  append: (kind: EventKind, atMs: number, rec: SessionRecord) => number,
): void {
  const old = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get();
  if (!old) return;
  const columns = (db.query("PRAGMA table_info(sessions)").all() as { name: string }[]).map((c) => c.name);
  const exportedCol = columns.includes("cdr_exported") ? "cdr_exported" : "0";
  const rows = (exported: number, status: string) =>
    (
      db
        .query(
          `SELECT * FROM sessions WHERE status = $status AND ${exportedCol} = $exported ORDER BY ${
            status === "ended" ? "ended_at_ms" : "started_at_ms"
          }`,
        )
        .all({ status, exported }) as Row[]
    ).map(fromRow);
  db.transaction(() => {
    let exportedThrough = 0;
    for (const rec of rows(1, "ended"))
      exportedThrough = append("end", rec.endedAtMs ?? rec.startedAtMs, rec);
    if (exportedThrough > 0)
      db.query("INSERT OR REPLACE INTO settings (key, value) VALUES ('cdr_exported_seq', $v)").run({
        v: String(exportedThrough),
      });
    for (const rec of rows(0, "ended")) append("end", rec.endedAtMs ?? rec.startedAtMs, rec);
    for (const rec of rows(0, "active")) append("start", rec.startedAtMs, rec);
    db.exec("DROP TABLE sessions");
  })();
}
