import type { CdrExport } from "./cdr.ts";
import type { Journal } from "./journal.ts";
import type { JournalHealth, JournalOp } from "./journal-writes.ts";

export interface RetentionOptions {
  journal: Journal;
  /** Ended sessions are deleted this long after they ended (at least the idempotency TTL: env.ts checks). */
  retentionMs: number;
  /** Where ended sessions are exported before they may be deleted; none: deleted without export. */
  cdr?: CdrExport;
  health: JournalHealth;
  now?: () => number;
  /** How often to export and prune. */
  tickMs?: number;
  /** Rows per statement: one batch holds the event loop for a few milliseconds at most. */
  batchRows?: number;
  /** Most time one tick spends, in batches with a turn of the event loop between them. */
  budgetMs?: number;
  onExported?: (sessions: number) => void;
  onPruned?: (sessions: number) => void;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Keeps the journal small: every tick exports newly ended sessions as charge detail records, then deletes
 * the oldest events, by range of the log, up to the first one newer than the retention, not yet exported,
 * or of a session still active. Work is done in small batches with a turn
 * of the event loop between them, so admissions never wait behind it; failures are counted and the next tick
 * tries again (a row is never deleted before it is exported). Deleting also frees room on a full journal.
 */
export class Retention {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<unknown> | undefined;
  private readonly now: () => number;
  private readonly batchRows: number;
  private readonly budgetMs: number;

  constructor(private readonly opts: RetentionOptions) {
    this.now = opts.now ?? Date.now;
    this.batchRows = opts.batchRows ?? 500;
    this.budgetMs = opts.budgetMs ?? 100;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref();
  }

  /** One round of export and pruning (skipped if one is still running); what it did. */
  async tick(): Promise<{ exported: number; pruned: number }> {
    if (this.running) return { exported: 0, pruned: 0 };
    const round = this.round();
    this.running = round;
    try {
      return await round;
    } finally {
      this.running = undefined;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    this.opts.cdr?.close();
  }

  private async round() {
    const { journal, cdr } = this.opts;
    // Indexes that could not be built at start (a full journal) are tried again until they are.
    this.attempt("schema", () => journal.ensureIndexes());
    // The export's reading and writing run on their own thread: its time is not the event loop's.
    const exported = cdr
      ? await this.batches("export", Number.POSITIVE_INFINITY, () => cdr.exportBatch(this.batchRows))
      : 0;
    this.opts.onExported?.(exported);
    // The budget is the event loop's: it starts once the export (on its own thread) is done.
    const deadlineMs = performance.now() + this.budgetMs;
    const nowMs = this.now();
    const beforeMs = nowMs - this.opts.retentionMs;
    // A session active since before the retention would hold back every event after its start: carried
    // forward as a fresh start (with its energy), it no longer does.
    this.attempt("prune", () => journal.compact(beforeMs, nowMs, this.batchRows));
    let pruned = 0;
    await this.batches("prune", deadlineMs, () => {
      // Never past the export's position: only exported ends are deleted.
      const throughSeq = cdr ? journal.exportedThroughSeq() : Number.POSITIVE_INFINITY;
      // A session is two events or more (start, end): a batch of `batchRows` sessions.
      const done = journal.prune(beforeMs, 2 * this.batchRows, throughSeq);
      pruned += done.sessions;
      return done.events / 2;
    });
    this.opts.onPruned?.(pruned);
    return { exported, pruned };
  }

  /**
   * Runs `batch` until it does less than a full batch, fails, or the tick's time on the event loop is spent
   * (a batch that waits for the export thread spends none of it while it waits).
   */
  private async batches(
    op: JournalOp,
    deadlineMs: number,
    batch: () => number | Promise<number>,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = await batch();
        this.opts.health.worked(op);
      } catch (err) {
        this.opts.health.failed(op, err);
        return total;
      }
      total += n;
      if (n < this.batchRows || performance.now() > deadlineMs) return total;
      await nextTurn();
    }
  }

  private attempt(op: JournalOp, work: () => unknown): boolean {
    try {
      work();
      this.opts.health.worked(op);
      return true;
    } catch (err) {
      this.opts.health.failed(op, err);
      return false;
    }
  }
}
