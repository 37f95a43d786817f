import { reasons } from "@evgrid/contract";
import { GridError, type Logger } from "@evgrid/kit";
import type { EndRecord, Journal, SessionRecord } from "./journal.ts";

/** Every kind of journal write, as the error metric labels them. */
export const JOURNAL_OPS = ["start", "end", "checkpoint", "setting", "export", "prune", "schema"] as const;
export type JournalOp = (typeof JOURNAL_OPS)[number];

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
 * The station's writes to its journal, with the rule for each when the journal cannot be written:
 * - a write the caller waits for (an admission, an operator setting) is refused 503 JOURNAL_UNAVAILABLE,
 *   and the caller changes nothing;
 * - a write that records what already happened (an end, the energy checkpoint) is kept and retried, so the
 *   journal catches up once there is room again. The process never exits over it.
 */
export class JournalWrites {
  /** Ends that happened but are not in the journal yet, in the order they happened. */
  private readonly pendingEnds = new Map<string, EndRecord>();
  private checkpointBehind = false;

  constructor(
    readonly journal: Journal,
    private readonly substationId: string,
    private readonly health: JournalHealth = new JournalHealth(),
  ) {}

  /** Writes not yet in the journal: ends, plus one while the energy checkpoint is behind. */
  get pending(): number {
    return this.pendingEnds.size + (this.checkpointBehind ? 1 : 0);
  }

  /**
   * Journals an admission before it is answered. Ends still pending go first: a restart must never find a
   * vehicle's new session while its old one still looks active.
   */
  started(s: Omit<SessionRecord, "deliveredKwh" | "status" | "endedAtMs" | "endReason">): void {
    this.must("start", () => {
      if (this.pendingEnds.size > 0) this.journal.ended([...this.pendingEnds.values()]);
      this.pendingEnds.clear();
      this.journal.started(s);
    });
  }

  /** Journals an operator setting before memory changes; null removes it. */
  setting(key: string, value: string | null): void {
    this.must("setting", () => this.journal.setSetting(key, value));
  }

  /**
   * Journals an end that already happened; kept and retried by `flush` if it cannot be written now. While
   * earlier ends wait, it only joins them: the next tick retries all at once, not every end on its own.
   */
  ended(end: EndRecord): void {
    const nothingWaits = this.pendingEnds.size === 0;
    this.pendingEnds.set(end.sessionId, end);
    if (nothingWaits) this.flush();
  }

  /** Energy drawn so far; a failed checkpoint needs no copy, the next one writes fresher figures. */
  checkpoint(rows: { sessionId: string; deliveredKwh: number }[]): void {
    if (rows.length === 0) {
      this.checkpointBehind = false;
      return;
    }
    this.checkpointBehind = !this.attempt("checkpoint", () => this.journal.checkpoint(rows));
  }

  /** Writes the pending ends, in one transaction; true once none are left. */
  flush(): boolean {
    if (this.pendingEnds.size === 0) return true;
    const ok = this.attempt("end", () => this.journal.ended([...this.pendingEnds.values()]));
    if (ok) this.pendingEnds.clear();
    return ok;
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

  private must(op: JournalOp, write: () => void): void {
    if (this.attempt(op, write)) return;
    // The cause (SQLite's message) goes to the log, not to a caller outside the substation.
    throw new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.JOURNAL_UNAVAILABLE,
      `${this.substationId} cannot write its journal: it takes no new sessions or settings until it can; sessions already charging run on`,
      { substationId: this.substationId },
    );
  }
}
