import { Database } from "bun:sqlite";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { preparePrivateDatabase } from "@evgrid/kit/private-files";
import {
  type ChargePoint,
  type RawChargePoint,
  type RawTx,
  SELECT_CP,
  SELECT_TX,
  type TransactionRow,
  toChargePoint,
  toTx,
} from "./registry-rows.ts";

export type { ChargePoint, TransactionRow } from "./registry-rows.ts";

/**
 * argon2id with OWASP's recommended minimum (19 MiB, 2 passes) rather than Bun's 64 MiB default: a gateway
 * restarted under 1,000 chargers verifies 1,000 passwords as they reconnect, and each costs this much.
 * Settable (OCPP_ARGON2_*) only so a benchmark registering thousands of chargers is not all hashing.
 */
export const ARGON2_DEFAULTS = { memoryKib: 19_456, timeCost: 2 };
export interface Argon2Cost {
  memoryKib: number;
  timeCost: number;
}

export type OcppProtocol = "ocpp1.6" | "ocpp2.0.1";

/** A grid session to stop, and why. */
export interface QueuedStop {
  sessionId: string;
  reason: "stopped" | "charger_offline";
}

/**
 * The gateway's own state, in embedded SQLite: registered charge points (their password as an argon2id hash,
 * never the password) and the transactions bound to grid sessions, so a restarted gateway resumes them.
 */
export class Registry {
  private readonly db: Database;
  /** SHA-256 of passwords already verified per charge point: argon2 once per password, not per connect. */
  private readonly verified = new Map<string, Buffer>();
  /** What unknown ids are verified against: a hash of a random password no one knows. */
  private readonly dummyHash: Promise<string>;
  private readonly argon2: { algorithm: "argon2id"; memoryCost: number; timeCost: number };

  /** `maxMb`: a cap on the file (SQLite max_page_count); past it every write fails as on a full disk. */
  constructor(path: string, opts: { maxMb?: number | undefined; argon2?: Argon2Cost } = {}) {
    const cost = opts.argon2 ?? ARGON2_DEFAULTS;
    this.argon2 = { algorithm: "argon2id", memoryCost: cost.memoryKib, timeCost: cost.timeCost };
    this.dummyHash = Bun.password.hash(randomBytes(24).toString("base64url"), this.argon2);
    preparePrivateDatabase(path);
    this.db = new Database(path, { create: true, strict: true });
    this.db.run("PRAGMA journal_mode = WAL");
    if (opts.maxMb !== undefined) {
      const pageSize = this.db.query<{ page_size: number }, []>("PRAGMA page_size").get()?.page_size ?? 4096;
      this.db.run(
        `PRAGMA max_page_count = ${Math.max(1, Math.floor((opts.maxMb * 1024 * 1024) / pageSize))}`,
      );
    }
    this.db.run(`CREATE TABLE IF NOT EXISTS charge_points (
      id TEXT PRIMARY KEY, substation_id TEXT NOT NULL, password_hash TEXT NOT NULL,
      max_kw REAL NOT NULL, booted_at INTEGER)`);
    const columns = this.db.query<{ name: string }, []>("PRAGMA table_info(charge_points)").all();
    if (!columns.some((c) => c.name === "connectors")) {
      // Registries from before connectors were counted: the default of registerChargePoint.
      this.db.run("ALTER TABLE charge_points ADD COLUMN connectors INTEGER NOT NULL DEFAULT 2");
    }
    if (!columns.some((c) => c.name === "overdrawn_at"))
      this.db.run("ALTER TABLE charge_points ADD COLUMN overdrawn_at INTEGER");
    this.db.run(`CREATE TABLE IF NOT EXISTS transactions (
      charge_point_id TEXT NOT NULL, connector_id INTEGER NOT NULL, transaction_id TEXT NOT NULL,
      vehicle_id TEXT, session_id TEXT, meter_start_wh REAL NOT NULL, started_at INTEGER NOT NULL,
      ended_at INTEGER, PRIMARY KEY (charge_point_id, transaction_id))`);
    const txColumns = this.db.query<{ name: string }, []>("PRAGMA table_info(transactions)").all();
    if (!txColumns.some((c) => c.name === "claim"))
      this.db.run("ALTER TABLE transactions ADD COLUMN claim TEXT");
    this.db.run(
      "CREATE INDEX IF NOT EXISTS transactions_open ON transactions (charge_point_id) WHERE ended_at IS NULL",
    );
    this.db.run("CREATE TABLE IF NOT EXISTS sequence (name TEXT PRIMARY KEY, next INTEGER NOT NULL)");
    // Grid sessions whose stop the grid has not confirmed yet: the outbox, retried until done.
    this.db.run(`CREATE TABLE IF NOT EXISTS stops (
      session_id TEXT PRIMARY KEY, reason TEXT NOT NULL, queued_at INTEGER NOT NULL)`);
    // Ended transactions are kept a week: long enough to recognise a reused id or a late StopTransaction.
    this.db.run("DELETE FROM transactions WHERE ended_at < ?", [Date.now() - 7 * 86_400_000]);
  }

  /** Registering it again (a new password, site or maximum) keeps what its meter showed (overdrawnAt). */
  async register(cp: Omit<ChargePoint, "bootedAt" | "overdrawnAt"> & { password: string }) {
    const hash = await Bun.password.hash(cp.password, this.argon2);
    this.verified.delete(cp.chargePointId);
    this.db.run(
      `INSERT INTO charge_points (id, substation_id, password_hash, max_kw, connectors) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET substation_id = excluded.substation_id,
         password_hash = excluded.password_hash, max_kw = excluded.max_kw, connectors = excluded.connectors`,
      [cp.chargePointId, cp.substationId, hash, cp.maxKw, cp.connectors],
    );
  }

  remove(chargePointId: string): boolean {
    this.verified.delete(chargePointId);
    return this.db.run("DELETE FROM charge_points WHERE id = ?", [chargePointId]).changes > 0;
  }

  get(chargePointId: string): ChargePoint | null {
    const row = this.db.query<RawChargePoint, [string]>(`${SELECT_CP} WHERE id = ?`).get(chargePointId);
    return row && toChargePoint(row);
  }

  all(): ChargePoint[] {
    return this.db.query<RawChargePoint, []>(`${SELECT_CP} ORDER BY id`).all().map(toChargePoint);
  }

  /** The password is the one already verified for this charge point (constant time, no argon2). */
  isVerified(chargePointId: string, password: Buffer): boolean {
    const known = this.verified.get(chargePointId);
    return known !== undefined && timingSafeEqual(known, createHash("sha256").update(password).digest());
  }

  /**
   * argon2id against the charge point's hash; for an unknown id against a dummy hash with the same
   * parameters, so an unknown id costs what a wrong password does and timing tells no one which ids exist.
   */
  async verifyPassword(chargePointId: string, password: Buffer): Promise<boolean> {
    const row = this.db
      .query<{ password_hash: string }, [string]>("SELECT password_hash FROM charge_points WHERE id = ?")
      .get(chargePointId);
    const hash = row?.password_hash ?? (await this.dummyHash);
    const ok = await Bun.password.verify(password.toString("utf8"), hash).catch(() => false);
    if (!ok || !row) return false;
    this.verified.set(chargePointId, createHash("sha256").update(password).digest());
    return true;
  }

  markBooted(chargePointId: string, atMs: number): void {
    this.db.run("UPDATE charge_points SET booted_at = ? WHERE id = ?", [atMs, chargePointId]);
  }

  /** Its meter showed it draws more than it accepted: it takes no limits, from now and after a restart. */
  markOverdrawn(chargePointId: string, atMs: number): void {
    this.db.run("UPDATE charge_points SET overdrawn_at = ? WHERE id = ? AND overdrawn_at IS NULL", [
      atMs,
      chargePointId,
    ]);
  }

  /** An operator trusts it again: false if it was not marked. */
  clearOverdrawn(chargePointId: string): boolean {
    return (
      this.db.run("UPDATE charge_points SET overdrawn_at = NULL WHERE id = ? AND overdrawn_at IS NOT NULL", [
        chargePointId,
      ]).changes > 0
    );
  }

  /** The next 1.6 transaction id (the backend hands them out), never reused. */
  nextTransactionId(): number {
    const row = this.db
      .query<{ next: number }, []>(
        `INSERT INTO sequence (name, next) VALUES ('transaction', 1)
         ON CONFLICT (name) DO UPDATE SET next = next + 1 RETURNING next`,
      )
      .get();
    return row?.next ?? 1;
  }

  openTransaction(t: Omit<TransactionRow, "endedAt" | "claim">): void {
    this.db.run(
      `INSERT INTO transactions (charge_point_id, connector_id, transaction_id, vehicle_id, session_id,
         meter_start_wh, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        t.chargePointId,
        t.connectorId,
        t.transactionId,
        t.vehicleId,
        t.sessionId,
        t.meterStartWh ?? -1,
        t.startedAt,
      ],
    );
  }

  bind(chargePointId: string, transactionId: string, vehicleId: string | null, sessionId: string | null) {
    this.db.run(
      "UPDATE transactions SET vehicle_id = ?, session_id = ? WHERE charge_point_id = ? AND transaction_id = ?",
      [vehicleId, sessionId, chargePointId, transactionId],
    );
  }

  /** A booking its transaction claimed at another substation's charger (moves.ts), before it is released there. */
  recordClaim(chargePointId: string, transactionId: string, claim: string): void {
    this.db.run("UPDATE transactions SET claim = ? WHERE charge_point_id = ? AND transaction_id = ?", [
      claim,
      chargePointId,
      transactionId,
    ]);
  }

  /** The transaction ended; `stop`: its session is still to be stopped (recorded with it, atomically). */
  closeTransaction(
    chargePointId: string,
    transactionId: string,
    atMs: number,
    stop?: QueuedStop | null,
  ): void {
    this.db.transaction(() => {
      this.db.run(
        "UPDATE transactions SET ended_at = ? WHERE charge_point_id = ? AND transaction_id = ? AND ended_at IS NULL",
        [atMs, chargePointId, transactionId],
      );
      if (stop) this.queueStop(stop, atMs);
    })();
  }

  queueStop(stop: QueuedStop, atMs = Date.now()): void {
    this.db.run("INSERT OR IGNORE INTO stops (session_id, reason, queued_at) VALUES (?, ?, ?)", [
      stop.sessionId,
      stop.reason,
      atMs,
    ]);
  }

  stopDone(sessionId: string): void {
    this.db.run("DELETE FROM stops WHERE session_id = ?", [sessionId]);
  }

  queuedStops(): QueuedStop[] {
    return this.db
      .query<{ session_id: string; reason: string }, []>("SELECT session_id, reason FROM stops")
      .all()
      .map((r) => ({
        sessionId: r.session_id,
        reason: r.reason === "charger_offline" ? "charger_offline" : "stopped",
      }));
  }

  /** The meter's register at the start, learnt from its first believable reading. */
  setMeterStart(chargePointId: string, transactionId: string, wh: number): void {
    this.db.run(
      "UPDATE transactions SET meter_start_wh = ? WHERE charge_point_id = ? AND transaction_id = ?",
      [wh, chargePointId, transactionId],
    );
  }

  /** A transaction with this id, open or ended (a reused id is refused). */
  findTransaction(chargePointId: string, transactionId: string): TransactionRow | null {
    const row = this.db
      .query<RawTx, [string, string]>(`${SELECT_TX} WHERE charge_point_id = ? AND transaction_id = ?`)
      .get(chargePointId, transactionId);
    return row && toTx(row);
  }

  openTransactions(): TransactionRow[] {
    return this.db.query<RawTx, []>(`${SELECT_TX} WHERE ended_at IS NULL`).all().map(toTx);
  }

  /** The database answers (it is open and readable): what the gateway's readiness asks. */
  isOpen(): boolean {
    try {
      this.db.query("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.close();
  }
}
