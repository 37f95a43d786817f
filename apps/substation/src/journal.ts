import { Database } from "bun:sqlite";
import type { EndReason } from "@evgrid/contract";
import { preparePrivateDatabase } from "@evgrid/kit/private-files";
import { fromRow, type Row, type SessionRecord } from "./journal-rows.ts";

export { type SessionRecord, sessionOf } from "./journal-rows.ts";

/** An end to write: what the session drew, when and why it ended. */
export interface EndRecord {
  sessionId: string;
  deliveredKwh: number;
  endedAtMs: number;
  endReason: EndReason;
}

/**
 * What recovery, lookups, export and pruning read; each has an index (below) so that none scans the table.
 * Exported so a test can show their query plans.
 */
export const QUERIES = {
  active: "SELECT * FROM sessions WHERE status = 'active' ORDER BY started_at_ms",
  recentlyEnded: "SELECT * FROM sessions WHERE status = 'ended' ORDER BY ended_at_ms DESC LIMIT $limit",
  byKey: `SELECT * FROM sessions WHERE owner = $owner AND idempotency_key = $key AND started_at_ms >= $sinceMs
          ORDER BY started_at_ms DESC LIMIT 1`,
  byId: "SELECT * FROM sessions WHERE session_id = $sessionId",
  unexported: `SELECT * FROM sessions WHERE status = 'ended' AND cdr_exported = 0
               ORDER BY ended_at_ms LIMIT $limit`,
  oldestUnexported:
    "SELECT MIN(ended_at_ms) AS atMs FROM sessions WHERE status = 'ended' AND cdr_exported = 0",
  prune: `DELETE FROM sessions WHERE rowid IN (
            SELECT rowid FROM sessions WHERE status = 'ended' AND ended_at_ms < $beforeMs
            AND cdr_exported >= $exported LIMIT $limit)`,
} as const;

/**
 * Partial indexes: each holds only the rows its query reads, so the ended sessions that make up almost all
 * of a journal cost no index space for the active scan, and the export backlog index empties as it goes.
 */
const INDEXES = `
  CREATE INDEX IF NOT EXISTS sessions_active_by_start ON sessions (started_at_ms) WHERE status = 'active';
  CREATE INDEX IF NOT EXISTS sessions_ended_by_end ON sessions (ended_at_ms) WHERE status = 'ended';
  CREATE INDEX IF NOT EXISTS sessions_unexported ON sessions (ended_at_ms) WHERE status = 'ended' AND cdr_exported = 0;
  CREATE INDEX IF NOT EXISTS sessions_by_owner_key ON sessions (owner, idempotency_key, started_at_ms)
    WHERE idempotency_key IS NOT NULL;
  DROP INDEX IF EXISTS sessions_active;
  UPDATE sessions SET owner = 'operator' WHERE owner IS NULL;
`;

export interface JournalOptions {
  /** A cap on the database's size (SQLite max_page_count); past it every write fails as on a full disk. */
  maxMb?: number;
  /**
   * `normal` (default): each commit survives a crash of the process (kill -9), the failure a substation
   * process has. `full`: an fsync per commit, so it also survives a power loss; one per group of writes.
   */
  sync?: JournalSync;
}

export const JOURNAL_SYNC = ["normal", "full"] as const;
export type JournalSync = (typeof JOURNAL_SYNC)[number];

/** What one group commit writes: ends first (a vehicle's old session never outlives its new one), then starts. */
export interface JournalGroup {
  ends: readonly EndRecord[];
  starts: readonly StartRecord[];
  checkpoint: readonly { sessionId: string; deliveredKwh: number }[];
}

export type StartRecord = Omit<SessionRecord, "deliveredKwh" | "status" | "endedAtMs" | "endReason">;

/**
 * The substation's journal in an embedded SQLite database (WAL). Admissions are written before they are
 * answered, so a session the balancer was told about survives a crash; `synchronous = NORMAL` makes each
 * commit durable against a process crash (kill -9), which is the failure a substation process has, and
 * `FULL` (sync: "full") against a power loss too. The writes of one turn of the event loop share one
 * transaction (`commit`, driven by journal-writes.ts): one WAL commit for many admissions and ends.
 * Any write may throw (disk full, the size cap, I/O errors): callers decide what that means (journal-writes.ts).
 */
export class Journal {
  private readonly db: Database;
  private readonly insertStmt;
  private readonly endStmt;
  private readonly checkpointStmt;
  private readonly markStmt;
  private readonly groupTx: (group: JournalGroup) => void;
  private indexed = false;

  constructor(path: string, opts: JournalOptions = {}) {
    preparePrivateDatabase(path);
    this.db = new Database(path, { create: true, strict: true });
    const synchronous = opts.sync === "full" ? "FULL" : "NORMAL";
    this.db.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`,
    );
    // The WAL is reused after each checkpoint but never shrinks by itself: cut it back to 4 MB after a burst.
    this.db.exec("PRAGMA journal_size_limit = 4194304;");
    if (opts.maxMb !== undefined) {
      const { page_size } = this.db.query("PRAGMA page_size").get() as { page_size: number };
      // Per connection, not stored: each start applies the cap in force. SQLite never sets it below the
      // pages already used, so a lowered cap freezes a bigger journal where it is rather than failing to open.
      const pages = Math.max(1, Math.floor((opts.maxMb * 1024 * 1024) / page_size));
      this.db.exec(`PRAGMA max_page_count = ${pages}`);
    }
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
        idempotency_key TEXT,
        owner TEXT,
        priority TEXT,
        cdr_exported INTEGER NOT NULL DEFAULT 0,
        depart_at_ms INTEGER
      );
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
    `);
    // Journals written by older versions get the newer columns (a change of schema only: no page is added,
    // so this works on a full journal too).
    const columns = this.db.query("PRAGMA table_info(sessions)").all() as { name: string }[];
    for (const [name, type] of [
      ["idempotency_key", "TEXT"],
      ["owner", "TEXT"],
      ["priority", "TEXT"],
      ["cdr_exported", "INTEGER NOT NULL DEFAULT 0"],
      ["depart_at_ms", "INTEGER"],
    ]) {
      if (!columns.some((c) => c.name === name))
        this.db.exec(`ALTER TABLE sessions ADD COLUMN ${name} ${type}`);
    }
    // Indexes need pages: on a full journal they wait (ensureIndexes is retried) rather than stop the start.
    try {
      this.ensureIndexes();
    } catch {}
    this.insertStmt = this.db.prepare(
      `INSERT INTO sessions (session_id, vehicle_id, min_kw, max_kw, started_at_ms, duration_s, energy_kwh, status, idempotency_key, owner, priority, depart_at_ms)
       VALUES ($sessionId, $vehicleId, $minKw, $maxKw, $startedAtMs, $durationS, $energyKwh, 'active', $idempotencyKey, $owner, $priority, $departAtMs)`,
    );
    this.endStmt = this.db.prepare(
      `UPDATE sessions SET status = 'ended', delivered_kwh = $deliveredKwh, ended_at_ms = $endedAtMs, end_reason = $endReason
       WHERE session_id = $sessionId`,
    );
    this.checkpointStmt = this.db.prepare(
      "UPDATE sessions SET delivered_kwh = $deliveredKwh WHERE session_id = $sessionId AND status = 'active'",
    );
    this.markStmt = this.db.prepare("UPDATE sessions SET cdr_exported = 1 WHERE session_id = $sessionId");
    this.groupTx = this.db.transaction((g: JournalGroup) => {
      for (const r of g.ends) this.endStmt.run({ ...r });
      for (const r of g.starts) this.insertStmt.run(r);
      // A session whose end came before its own admission's commit (a stalled process): ended after its start.
      for (const r of g.ends)
        if (g.starts.some((s) => s.sessionId === r.sessionId)) this.endStmt.run({ ...r });
      for (const r of g.checkpoint) this.checkpointStmt.run(r);
    });
  }

  /** Creates the indexes (and upgrades old rows) once; true when done. Throws if the journal is full. */
  ensureIndexes(): boolean {
    if (!this.indexed) {
      this.db.transaction(() => this.db.exec(INDEXES))();
      this.indexed = true;
    }
    return this.indexed;
  }

  /** Writes a group of ends, starts and energy figures in one transaction: all or none. */
  commit(group: JournalGroup): void {
    this.groupTx(group);
  }

  active(): SessionRecord[] {
    return (this.db.query(QUERIES.active).all() as Row[]).map(fromRow);
  }

  recentlyEnded(limit: number): SessionRecord[] {
    const rows = this.db.query(QUERIES.recentlyEnded).all({ limit }) as Row[];
    return rows.map(fromRow).reverse();
  }

  /** The newest session this owner started with this key since `sinceMs`, if the journal still has it. */
  findByKey(owner: string, key: string, sinceMs: number): SessionRecord | null {
    const row = this.db.query(QUERIES.byKey).get({ owner, key, sinceMs }) as Row | null;
    return row ? fromRow(row) : null;
  }

  find(sessionId: string): SessionRecord | null {
    const row = this.db.query(QUERIES.byId).get({ sessionId }) as Row | null;
    return row ? fromRow(row) : null;
  }

  /** Ended sessions not yet exported as charge detail records, oldest end first. */
  unexported(limit: number): SessionRecord[] {
    return (this.db.query(QUERIES.unexported).all({ limit }) as Row[]).map(fromRow);
  }

  markExported(sessionIds: readonly string[]): void {
    this.db.transaction((ids: readonly string[]) => {
      for (const sessionId of ids) this.markStmt.run({ sessionId });
    })(sessionIds);
  }

  /** When the oldest ended session still waiting for export ended; null if none waits. */
  oldestUnexportedMs(): number | null {
    return (this.db.query(QUERIES.oldestUnexported).get() as { atMs: number | null }).atMs;
  }

  /**
   * Deletes up to `limit` sessions that ended before `beforeMs` (with `exportedOnly`, only those already
   * exported); returns how many.
   */
  prune(beforeMs: number, limit: number, exportedOnly: boolean): number {
    return this.db.query(QUERIES.prune).run({ beforeMs, limit, exported: exportedOnly ? 1 : 0 }).changes;
  }

  /** A car's needs (NotifyEVChargingNeeds): the active session is energy-based from now on, maybe by a departure. */
  setNeeds(n: { sessionId: string; energyKwh: number; departAtMs: number | null }): void {
    this.db
      .query(`UPDATE sessions SET energy_kwh = $energyKwh, duration_s = NULL, depart_at_ms = $departAtMs
              WHERE session_id = $sessionId AND status = 'active'`)
      .run(n);
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
