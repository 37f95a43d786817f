import { reasons } from "@evgrid/contract";
import { GridError, type Logger } from "@evgrid/kit";
import type { EndRecord, Journal, SessionRecord } from "./journal.ts";

/** Every kind of journal write, as the error metric labels them. */
export const JOURNAL_OPS = ["start", "end", "checkpoint", "setting", "export", "prune", "schema"] as const;
export type JournalOp = (typeof JOURNAL_OPS)[number];

/**
 * Counts every failed journal write, and tells the log once when a kind of write starts failing and once
 * when it works again: a full disk must not also flood the log.
 */
export class JournalHealth {
  private readonly failing = new Set<JournalOp>();

  constructor(private readonly report: { count?: (op: JournalOp) => void; log?: Logger } = {}) {}

  failed(op: JournalOp, err: unknown): void {
    this.report.count?.(op);
    if (this.failing.has(op)) return;
    this.failing.add(op);
    this.report.log?.warn("cannot write the journal; will retry", {
      op,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  worked(op: JournalOp): void {
    if (this.failing.delete(op)) this.report.log?.info("journal writes work again", { op });
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

  /** Journals an end that already happened; kept and retried by `flush` if it cannot be written now. */
  ended(end: EndRecord): void {
    this.pendingEnds.set(end.sessionId, end);
    this.flush();
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
