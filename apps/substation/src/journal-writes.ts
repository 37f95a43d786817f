import { reasons } from "@evgrid/contract";
import { GridError, type Logger } from "@evgrid/kit";
import type { EndRecord, Journal, StartRecord } from "./journal.ts";
import type { EnergyFigure } from "./journal-checkpoint.ts";

/** Every kind of journal write, as the error metric labels them. */
export const JOURNAL_OPS = [
  "start",
  "end",
  "checkpoint",
  "setting",
  "needs",
  "export",
  "prune",
  "schema",
] as const;
export type JournalOp = (typeof JOURNAL_OPS)[number];

/** How admissions and ends are grouped into one commit (one WAL commit; one fsync with `sync: "full"`). */
export interface CommitGrouping {
  /** 0 (default): a group is one turn of the event loop. Above: a group waits up to this long for more. */
  windowMs?: number;
  /** A group this big (admissions and ends) is committed at the end of its turn, window or not. */
  maxEvents?: number;
}

/** At most one log line per kind of write and event in this long: a full disk must not also flood the log. */
const LOG_EVERY_MS = 60_000;

/**
 * Counts every failed journal write, and logs when a kind of write starts failing and when it works again,
 * at most once a minute each (a nearly full journal can flap between the two many times a second).
 */
export class JournalHealth {
  private readonly failing = new Set<JournalOp>();
  private readonly failuresSinceLog = new Map<JournalOp, number>();
  private readonly loggedAtMs = new Map<string, number>();

  constructor(
    private readonly report: { count?: (op: JournalOp) => void; log?: Logger; now?: () => number } = {},
  ) {}

  failed(op: JournalOp, err: unknown): void {
    this.report.count?.(op);
    this.failing.add(op);
    const failures = (this.failuresSinceLog.get(op) ?? 0) + 1;
    this.failuresSinceLog.set(op, failures);
    if (!this.mayLog(`failed:${op}`)) return;
    this.failuresSinceLog.set(op, 0);
    this.report.log?.warn("cannot write the journal", {
      op,
      failures,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /** The kinds of write whose last try failed: none while the journal is writable. */
  failingOps(): JournalOp[] {
    return [...this.failing];
  }

  worked(op: JournalOp): void {
    if (this.failing.delete(op) && this.mayLog(`worked:${op}`))
      this.report.log?.info("journal writes work again", { op });
  }

  private mayLog(event: string): boolean {
    const nowMs = (this.report.now ?? Date.now)();
    const lastMs = this.loggedAtMs.get(event);
    if (lastMs !== undefined && nowMs - lastMs < LOG_EVERY_MS) return false;
    this.loggedAtMs.set(event, nowMs);
    return true;
  }
}

/**
 * The station's writes to its journal, grouped and with the rule for each when the journal cannot be written.
 *
 * Group commit: the admissions, ends and energy checkpoint of one turn of the event loop (or of a time
 * window, `CommitGrouping`) are appended in one transaction (one WAL commit, one fsync with `sync: "full"`,
 * however many sessions). An admission is answered only once its group is committed.
 *
 * When the journal cannot be written:
 * - a write the caller waits for (an admission, an operator setting) is refused 503 JOURNAL_UNAVAILABLE,
 *   and the caller undoes or changes nothing;
 * - a write that records what already happened (an end, the energy checkpoint) is kept and retried, so the
 *   journal catches up once there is room again. The process never exits over it.
 */
export class JournalWrites {
  /** Ends that happened but are not in the journal yet, in the order they happened. */
  private readonly pendingEnds = new Map<string, EndRecord>();
  /** Admissions of this turn, each with its caller waiting for the commit. */
  private starts: { record: StartRecord; done: (err: GridError | null) => void }[] = [];
  private checkpointRows: EnergyFigure[] | null = null;
  /** A checkpoint row is due even without energies: it moves where recovery's replay begins. */
  private mark = false;
  private checkpointBehind = false;
  /** A commit of ends failed: later ends only join them until the next flush (no retry per end on a full disk). */
  private endsBehind = false;
  private scheduled: "turn" | "window" | null = null;
  private windowTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly journal: Journal,
    private readonly substationId: string,
    private readonly health: JournalHealth = new JournalHealth(),
    private readonly grouping: CommitGrouping = {},
  ) {}

  /** Writes not yet in the journal: ends, plus one while the energy checkpoint is behind. */
  get pending(): number {
    return this.pendingEnds.size + (this.checkpointBehind ? 1 : 0);
  }

  /**
   * Journals an admission with the other writes of this turn; resolves once committed, or rejects with
   * JOURNAL_UNAVAILABLE (the caller then undoes the admission). Ends still pending go first in the group: a
   * restart must never find a vehicle's new session while its old one still looks active.
   */
  started(record: StartRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.starts.push({ record, done: (err) => (err ? reject(err) : resolve()) });
      this.schedule();
    });
  }

  /** Journals an operator setting before memory changes (at once, not grouped); null removes it. */
  setting(key: string, value: string | null): void {
    if (this.attempt("setting", () => this.journal.setSetting(key, value))) return;
    throw this.unavailable();
  }

  /** Journals a car's needs before memory changes (at once, not grouped): refused if it cannot be written. */
  needs(n: { sessionId: string; energyKwh: number; departAtMs: number | null }): void {
    if (this.attempt("needs", () => this.journal.setNeeds(n))) return;
    throw this.unavailable();
  }

  /** Journals an end that already happened, with this turn's group; kept and retried if it cannot be written. */
  ended(end: EndRecord): void {
    this.pendingEnds.set(end.sessionId, end);
    if (!this.endsBehind) this.schedule();
  }

  /**
   * Energy drawn so far and meters' readings, with this turn's group; a failed checkpoint needs no copy, the
   * next is fresher.
   */
  checkpoint(rows: EnergyFigure[]): void {
    // Idle sessions (a meter that did not move, nothing drawn) cost no write every interval.
    // (No rows: it holds them when nothing happened since the last checkpoint.)
    if (this.journal.holds(rows)) {
      this.checkpointBehind = false;
      return;
    }
    if (rows.length === 0) {
      this.checkpointBehind = false;
      // Nothing to measure, but sessions came and went: a row that tells recovery where to begin.
      this.mark = true;
    }
    this.checkpointRows = rows;
    this.schedule();
  }

  /**
   * Commits whatever waits, now: the group of this turn, or ends kept from a failed one. True once nothing
   * is left (closing calls it last; the checkpoint timer calls it to retry).
   */
  flush(): boolean {
    this.commit();
    return this.pendingEnds.size === 0;
  }

  private schedule(): void {
    const full = this.starts.length + this.pendingEnds.size >= (this.grouping.maxEvents ?? 1000);
    const windowMs = this.grouping.windowMs ?? 0;
    if (this.scheduled === "turn" || (this.scheduled === "window" && !full)) return;
    if (windowMs > 0 && !full) {
      // Wait for more: with `sync: "full"` each commit is an fsync, and the callers wait for it anyway.
      this.scheduled = "window";
      this.windowTimer = setTimeout(() => this.commit(), windowMs);
      return;
    }
    clearTimeout(this.windowTimer);
    this.scheduled = "turn";
    // After this turn's I/O callbacks: every call that arrived with this one is in the group.
    setImmediate(() => this.commit());
  }

  private commit(): void {
    if (this.scheduled === "window") clearTimeout(this.windowTimer);
    this.scheduled = null;
    const starts = this.starts;
    this.starts = [];
    const ends = [...this.pendingEnds.values()];
    if (starts.length + ends.length > 0) this.commitSessions(starts, ends);
    // The checkpoint (one row with every energy-based session's energy, the biggest row) commits on its own,
    // once per interval: when it does not fit, no admission or end is refused or held back with it.
    const checkpoint = this.checkpointRows ?? [];
    this.checkpointRows = null;
    const mark = this.mark;
    this.mark = false;
    if (checkpoint.length === 0 && !mark) return;
    const group = { ends: [], starts: [], checkpoint, mark };
    if (this.attempt("checkpoint", () => this.journal.commit(group))) this.checkpointBehind = false;
    else this.checkpointBehind ||= checkpoint.length > 0;
  }

  private commitSessions(starts: typeof this.starts, ends: EndRecord[]): void {
    const group = { ends, starts: starts.map((s) => s.record), checkpoint: [] };
    if (this.attempt(starts.length > 0 ? "start" : "end", () => this.journal.commit(group))) {
      this.written(ends);
      for (const s of starts) s.done(null);
      return;
    }
    // All or nothing: no admission of the group is journaled, so none is answered as admitted. What
    // already happened is tried again on its own (an admission's new row may be what did not fit).
    for (const s of starts) s.done(this.unavailable());
    const retried = { ends, starts: [], checkpoint: [] };
    if (starts.length > 0 && ends.length > 0 && this.attempt("end", () => this.journal.commit(retried))) {
      this.written(ends);
      return;
    }
    this.endsBehind = ends.length > 0;
  }

  private written(ends: readonly EndRecord[]): void {
    for (const end of ends) this.pendingEnds.delete(end.sessionId);
    if (ends.length > 0) this.health.worked("end");
    this.endsBehind = false;
  }

  private attempt(op: JournalOp, write: () => void): boolean {
    try {
      write();
      this.health.worked(op);
      return true;
    } catch (err) {
      this.health.failed(op, err);
      return false;
    }
  }

  private unavailable(): GridError {
    // The cause (SQLite's message) goes to the log, not to a caller outside the substation.
    return new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.JOURNAL_UNAVAILABLE,
      `${this.substationId} cannot write its journal: it takes no new sessions or settings until it can; sessions already charging run on`,
      { substationId: this.substationId },
    );
  }
}
