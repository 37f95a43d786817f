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
 * those that ended more than the retention ago and were exported. Work is done in small batches with a turn
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
  }

  private async round() {
    const { journal, cdr } = this.opts;
    const deadlineMs = performance.now() + this.budgetMs;
    // Indexes that could not be built at start (a full journal) are tried again until they are.
    this.attempt("schema", () => journal.ensureIndexes());
    const exported = cdr
      ? await this.batches("export", deadlineMs, () => cdr.exportBatch(this.batchRows))
      : 0;
    this.opts.onExported?.(exported);
    const pruned = await this.batches("prune", deadlineMs, () => {
      let beforeMs = this.now() - this.opts.retentionMs;
      // Never past the oldest session still waiting for export: the index range then holds only exported rows.
      if (cdr) beforeMs = Math.min(beforeMs, journal.oldestUnexportedMs() ?? beforeMs);
      return journal.prune(beforeMs, this.batchRows, cdr !== undefined);
    });
    this.opts.onPruned?.(pruned);
    return { exported, pruned };
  }

  /** Runs `batch` until it does less than a full batch, fails, or the tick's time is spent. */
  private async batches(op: JournalOp, deadlineMs: number, batch: () => number): Promise<number> {
    let total = 0;
    for (;;) {
      let n = 0;
      if (!this.attempt(op, () => (n = batch()))) return total;
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
