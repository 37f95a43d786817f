import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { EndReason } from "@evgrid/contract";

/** One session as the journal keeps it. */
export interface SessionRecord {
  sessionId: string;
  vehicleId: string;
  minKw: number;
  maxKw: number;
  startedAtMs: number;
  durationS: number | null;
  energyKwh: number | null;
  /** At the last checkpoint (active) or at the end (ended). */
  deliveredKwh: number;
  status: "active" | "ended";
  endedAtMs: number | null;
  endReason: EndReason | null;
  idempotencyKey: string | null;
  owner: string;
}

interface Row {
  session_id: string;
  vehicle_id: string;
  min_kw: number;
  max_kw: number;
  started_at_ms: number;
  duration_s: number | null;
  energy_kwh: number | null;
  delivered_kwh: number;
  status: "active" | "ended";
  ended_at_ms: number | null;
  end_reason: EndReason | null;
  idempotency_key: string | null;
  owner: string | null;
}

const fromRow = (r: Row): SessionRecord => ({
  sessionId: r.session_id,
  vehicleId: r.vehicle_id,
  minKw: r.min_kw,
  maxKw: r.max_kw,
  startedAtMs: r.started_at_ms,
  durationS: r.duration_s,
  energyKwh: r.energy_kwh,
  deliveredKwh: r.delivered_kwh,
  status: r.status,
  endedAtMs: r.ended_at_ms,
  endReason: r.end_reason,
  idempotencyKey: r.idempotency_key,
  // Sessions journaled before owners existed were started by whoever held the service token.
  owner: r.owner ?? "operator",
});

/**
 * The substation's journal in an embedded SQLite database (WAL). Admissions are written before they are
 * answered, so a session the balancer was told about survives a crash; `synchronous = NORMAL` makes each
 * commit durable against a process crash (kill -9), which is the failure a substation process has.
 */
export class Journal {
  private readonly db: Database;
  private readonly insertStmt;
  private readonly endStmt;
  private readonly checkpointStmt;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        vehicle_id TEXT NOT NULL,
        min_kw REAL NOT NULL,
        max_kw REAL NOT NULL,
        started_at_ms INTEGER NOT NULL,
        duration_s REAL,
        energy_kwh REAL,
        delivered_kwh REAL NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
        ended_at_ms INTEGER,
        end_reason TEXT,
        idempotency_key TEXT
      );
      CREATE INDEX IF NOT EXISTS sessions_active ON sessions (status, started_at_ms);
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
    `);
    // Journals written before idempotency keys (or owners) existed get the column.
    const columns = this.db.query("PRAGMA table_info(sessions)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "idempotency_key")) {
      this.db.exec("ALTER TABLE sessions ADD COLUMN idempotency_key TEXT");
    }
    if (!columns.some((c) => c.name === "owner")) {
      this.db.exec("ALTER TABLE sessions ADD COLUMN owner TEXT");
    }
    this.insertStmt = this.db.prepare(
      `INSERT INTO sessions (session_id, vehicle_id, min_kw, max_kw, started_at_ms, duration_s, energy_kwh, status, idempotency_key, owner)
       VALUES ($sessionId, $vehicleId, $minKw, $maxKw, $startedAtMs, $durationS, $energyKwh, 'active', $idempotencyKey, $owner)`,
    );
    this.endStmt = this.db.prepare(
      `UPDATE sessions SET status = 'ended', delivered_kwh = $deliveredKwh, ended_at_ms = $endedAtMs, end_reason = $endReason
       WHERE session_id = $sessionId`,
    );
    this.checkpointStmt = this.db.prepare(
      "UPDATE sessions SET delivered_kwh = $deliveredKwh WHERE session_id = $sessionId AND status = 'active'",
    );
  }

  started(s: Omit<SessionRecord, "deliveredKwh" | "status" | "endedAtMs" | "endReason">): void {
    this.insertStmt.run(s);
  }

  ended(sessionId: string, deliveredKwh: number, endedAtMs: number, endReason: EndReason): void {
    this.endStmt.run({ sessionId, deliveredKwh, endedAtMs, endReason });
  }

  /** Records how much energy active sessions have drawn, in one transaction. */
  checkpoint(delivered: { sessionId: string; deliveredKwh: number }[]): void {
    this.db.transaction((rows: typeof delivered) => {
      for (const r of rows) this.checkpointStmt.run(r);
    })(delivered);
  }

  active(): SessionRecord[] {
    return (
      this.db.query("SELECT * FROM sessions WHERE status = 'active' ORDER BY started_at_ms").all() as Row[]
    ).map(fromRow);
  }

  recentlyEnded(limit: number): SessionRecord[] {
    const rows = this.db
      .query("SELECT * FROM sessions WHERE status = 'ended' ORDER BY ended_at_ms DESC LIMIT $limit")
      .all({ limit }) as Row[];
    return rows.map(fromRow).reverse();
  }

  getSetting(key: string): string | null {
    const row = this.db.query("SELECT value FROM settings WHERE key = $key").get({ key }) as {
      value: string;
    } | null;
    return row?.value ?? null;
  }

  setSetting(key: string, value: string | null): void {
    if (value === null) this.db.query("DELETE FROM settings WHERE key = $key").run({ key });
    else
      this.db.query("INSERT OR REPLACE INTO settings (key, value) VALUES ($key, $value)").run({ key, value });
  }

  close(): void {
    this.db.close();
  }
}
