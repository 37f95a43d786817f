import { Database } from "bun:sqlite";
import { preparePrivateDatabase } from "@evgrid/kit/private-files";
import { checkpointColumns, type EnergyFigure, holdsFigures } from "./journal-checkpoint.ts";
import {
  type EndRecord,
  EVENTS_INDEXES,
  type EventRow,
  endedRecord,
  eventParams,
  type GroupChange,
  type JournalGroup,
  type JournalOptions,
  type JournalStats,
  type LiveRecord,
  QUERIES,
  recordOf,
  recoverLive,
  withNeeds,
} from "./journal-events.ts";
import type { SessionRecord } from "./journal-rows.ts";
import { convertSessionsTable, EventInsert } from "./journal-upgrade.ts";

export {
  type EndRecord,
  JOURNAL_SYNC,
  type JournalGroup,
  type JournalOptions,
  type JournalStats,
  type JournalSync,
  QUERIES,
  type StartRecord,
} from "./journal-events.ts";
export { type SessionRecord, sessionOf } from "./journal-rows.ts";

/**
 * The substation's journal: an append-only log of events (journal-events.ts) in an embedded SQLite database
 * (WAL). Admissions are written before they are answered; `synchronous = NORMAL` makes each commit durable
 * against a process crash (kill -9), `FULL` (sync: "full") against a power loss too. The writes of a group
 * (journal-writes.ts) are one transaction: one WAL commit for many admissions, ends and a checkpoint.
 * Active sessions are kept here too, rebuilt at open by replaying the log from the last checkpoint: an end is
 * written whole, never read. Any write may throw (disk full, the size cap, I/O errors).
 */
export class Journal {
  readonly stats: JournalStats = { commits: 0, events: 0 };
  /** The position of the newest end in the log (0: none): nothing to export while it is exported. */
  lastEndSeq = 0;
  private readonly db: Database;
  private readonly insert: EventInsert;
  private readonly groupTx: (group: JournalGroup) => GroupChange;
  /** Active sessions in start order, as the log says. */
  private readonly live: Map<string, LiveRecord>;
  /** Events appended since the last checkpoint row: a checkpoint now would move recovery's start. */
  eventsSinceCheckpoint = 0;
  /** The time of the newest event: a checkpoint or needs row (the journal has no clock) is as new. */
  private lastAtMs = 0;
  /** The newest position given out: SQLite would number an emptied log from 1 again, behind the export's. */
  private lastSeq: number;
  private uncounted = 0; // events appended by the write under way: counted in `stats` once it commits
  private indexed = false;

  constructor(
    /** The database file (":memory:": none). */
    readonly path: string,
    opts: JournalOptions = {},
  ) {
    preparePrivateDatabase(path);
    this.db = new Database(path, { create: true, strict: true });
    const synchronous = opts.sync === "full" ? "FULL" : "NORMAL";
    this.db.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`,
    );
    // The WAL is reused after each checkpoint but never shrinks by itself: cut it back to 4 MB after a burst.
    this.db.exec("PRAGMA journal_size_limit = 4194304;");
    this.insert = new EventInsert(this.db);
    const newest = this.db.query(QUERIES.newest).get() as { seq: number } | null;
    this.lastSeq = Math.max(newest?.seq ?? 0, this.exportedThroughSeq());
    convertSessionsTable(this.db, (kind, atMs, rec) => this.append(kind, atMs, rec));
    if (opts.maxMb !== undefined) {
      const { page_size } = this.db.query("PRAGMA page_size").get() as { page_size: number };
      // Per connection, not stored: each start applies it, after any conversion of the old table (which may
      // pass it by a batch). SQLite never sets it below the pages in use: a bigger journal freezes where it is.
      const pages = Math.max(1, Math.floor((opts.maxMb * 1024 * 1024) / page_size));
      this.db.exec(`PRAGMA max_page_count = ${pages}`);
    }
    // Indexes need pages: on a full journal they wait (ensureIndexes is retried) rather than stop the start.
    try {
      this.ensureIndexes();
    } catch {}
    const recovered = recoverLive(this.db);
    this.live = recovered.live;
    this.lastAtMs = recovered.lastAtMs;
    this.lastEndSeq = (this.db.query(QUERIES.newestEnd).get() as { seq: number } | null)?.seq ?? 0;
    this.groupTx = this.db.transaction((g: JournalGroup) => this.appendGroup(g));
  }

  /** Creates the indexes once. Throws if the journal is full. */
  ensureIndexes(): void {
    if (this.indexed) return;
    this.db.transaction(() => this.db.exec(EVENTS_INDEXES))();
    this.indexed = true;
  }

  /** Appends a group of ends, starts and energy figures in one transaction: all or none. */
  commit(group: JournalGroup): void {
    this.insert.ready();
    const change = this.counted(() => this.groupTx(group));
    // Memory follows only a committed transaction: a failed one leaves the journal's view as it was.
    for (const id of change.removed) this.live.delete(id);
    for (const [id, l] of change.added) this.live.set(id, l);
    for (const [id, energy] of change.energies) {
      const live = this.live.get(id);
      if (live) live.rec = { ...live.rec, ...energy };
    }
    this.stats.commits += 1;
  }

  /** Whether a checkpoint of `figures` would write the newest one again: no event since it, no figure changed. */
  holds = (figures: readonly EnergyFigure[]) =>
    this.eventsSinceCheckpoint === 0 && holdsFigures(this.live, figures);

  active(): SessionRecord[] {
    return [...this.live.values()].map((l) => l.rec).sort((a, b) => a.startedAtMs - b.startedAtMs);
  }

  /** The last `limit` sessions that ended, oldest first. */
  recentlyEnded(limit: number): SessionRecord[] {
    const rows = this.db.query(QUERIES.recentlyEnded).all({ limit }) as EventRow[];
    return rows.map(recordOf).reverse();
  }

  /**
   * The newest ended session this owner started with this key since `sinceMs`, if the journal still has it:
   * by index (a new key, most asked about, by `anyEndByKey`). Active sessions' keys are held in memory.
   */
  findByKey(owner: string, key: string, sinceMs: number): SessionRecord | null {
    const p = { owner, key, sinceMs };
    if (!this.db.query(QUERIES.anyEndByKey).get(p)) return null;
    const row = this.db.query(QUERIES.endByKey).get(p) as EventRow | null;
    return row ? recordOf(row) : null;
  }

  find(sessionId: string): SessionRecord | null {
    const live = this.live.get(sessionId);
    if (live) return live.rec;
    const row = this.db.query(QUERIES.endById).get({ sessionId }) as EventRow | null;
    return row ? recordOf(row) : null;
  }

  /** Up to `limit` ended sessions after `afterSeq` in the log, each with its `seq`: a range of the rowid. */
  unexported(limit: number, afterSeq = this.exportedThroughSeq()): (SessionRecord & { seq: number })[] {
    const rows = this.db.query(QUERIES.unexported).all({ afterSeq, limit }) as EventRow[];
    return rows.map((r) => ({ ...recordOf(r), seq: r.seq }));
  }

  /** Every end up to `throughSeq` is exported: one write, however many sessions. */
  markExported(throughSeq: number): void {
    if (throughSeq > this.exportedThroughSeq()) this.setSetting("cdr_exported_seq", String(throughSeq));
  }

  /** The log position up to which ended sessions are exported (0: none yet). */
  exportedThroughSeq(): number {
    return Number(this.getSetting("cdr_exported_seq") ?? 0);
  }

  /**
   * Deletes the oldest events, one range: at most `limit` of them, none at or after `beforeMs`, none past
   * `throughSeq` (the export's position) and none of an active session (retention.ts chooses the bounds).
   * Returns the events and the sessions (ends) deleted. Read row by row: the first is nearly always too new.
   */
  prune(beforeMs: number, limit: number, throughSeq: number): { events: number; sessions: number } {
    const firstActive = this.live.values().next().value?.startSeq ?? Number.POSITIVE_INFINITY;
    const bound = Math.min(throughSeq, firstActive - 1);
    let cut = 0;
    let sessions = 0;
    let events = 0;
    for (const r of this.db.query(QUERIES.oldest).iterate({ limit }) as Iterable<EventRow>) {
      if (r.seq > bound || r.at_ms >= beforeMs) break;
      cut = r.seq;
      events += 1;
      if (r.kind === "end") sessions += 1;
    }
    if (events > 0) this.db.query(QUERIES.prune).run({ throughSeq: cut });
    return { events, sessions };
  }

  /**
   * Re-appends active sessions that started before `beforeMs` as fresh starts (with the energy of the last
   * checkpoint), so that one long session does not hold every later event past its retention. Returns how many.
   */
  compact(beforeMs: number, nowMs: number, limit: number): number {
    const old: LiveRecord[] = [];
    for (const l of this.live.values()) {
      if (old.length >= limit || l.startAtMs >= beforeMs) break;
      old.push(l);
    }
    if (old.length === 0) return 0;
    this.insert.ready();
    const carry = this.db.transaction(() => old.map((l) => this.append("start", nowMs, l.rec)));
    const seqs = this.counted(carry);
    old.forEach((l, i) => {
      this.live.delete(l.rec.sessionId);
      this.live.set(l.rec.sessionId, { rec: l.rec, startSeq: seqs[i] as number, startAtMs: nowMs });
    });
    return old.length;
  }

  /** A car's needs (NotifyEVChargingNeeds): the active session is energy-based from now on, maybe by a departure. */
  setNeeds(n: { sessionId: string; energyKwh: number; departAtMs: number | null }): void {
    const live = this.live.get(n.sessionId);
    if (!live) return;
    this.insert.ready();
    const replace = this.db.transaction(() => {
      // They replace the ones before, whose row goes: a charger changing them at every message holds one row.
      if (live.needsSeq !== undefined) this.db.query(QUERIES.dropEvent).run({ seq: live.needsSeq });
      return this.append("needs", this.lastAtMs, n);
    });
    live.needsSeq = this.counted(replace);
    live.rec = withNeeds(live.rec, n.energyKwh, n.departAtMs);
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

  private counted<T>(write: () => T): T {
    this.uncounted = 0;
    const result = write();
    this.stats.events += this.uncounted;
    return result;
  }

  private append(kind: EventRow["kind"], atMs: number, rec: Partial<SessionRecord> | null, extra = {}) {
    const seq = ++this.lastSeq;
    this.insert.run(eventParams(seq, kind, atMs, rec, extra));
    this.lastAtMs = Math.max(this.lastAtMs, atMs);
    if (kind === "end") this.lastEndSeq = seq;
    this.uncounted += 1;
    this.eventsSinceCheckpoint = kind === "checkpoint" ? 0 : this.eventsSinceCheckpoint + 1;
    return seq;
  }

  /**
   * Inside the group's transaction: appends its events, and returns what they change (applied to `live` only
   * once the transaction committed). O(group), not O(active sessions).
   */
  private appendGroup(g: JournalGroup): GroupChange {
    const change: GroupChange = { added: new Map(), removed: new Set(), energies: new Map() };
    const find = (id: string) =>
      change.added.get(id) ?? (change.removed.has(id) ? undefined : this.live.get(id));
    const end = (r: EndRecord) => {
      const live = find(r.sessionId);
      if (!live) return false;
      this.append("end", r.endedAtMs, endedRecord(live.rec, r));
      if (!change.added.delete(r.sessionId)) change.removed.add(r.sessionId);
      return true;
    };
    // An end of a session started in this very group (a stalled process) goes after its start.
    const later = g.ends.filter((r) => !end(r));
    for (const s of g.starts) {
      const rec: SessionRecord = {
        ...s,
        deliveredKwh: 0,
        status: "active",
        endedAtMs: null,
        endReason: null,
        movedToSubstationId: null,
        meteredKwh: null,
      };
      const startSeq = this.append("start", s.startedAtMs, rec);
      change.added.set(s.sessionId, { rec, startSeq, startAtMs: s.startedAtMs });
    }
    for (const r of later) end(r);
    if (g.checkpoint.length > 0 || g.mark) {
      // A whole snapshot (those given, the others as last known): the newest checkpoint alone is enough.
      const after = function* (live: Map<string, LiveRecord>) {
        for (const [id, l] of live) if (!change.removed.has(id)) yield l;
        yield* change.added.values();
      };
      const { columns, changes } = checkpointColumns(after(this.live), g.checkpoint);
      change.energies = changes;
      // The one before goes first: on a nearly full journal the new row takes the pages the old one frees.
      this.db.query(QUERIES.dropCheckpoints).run();
      this.append("checkpoint", this.lastAtMs, null, columns);
    }
    return change;
  }
}
