import { closeSync, fchmodSync, fdatasyncSync, fstatSync, ftruncateSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import type { EndReason } from "@evgrid/contract";
import { ensurePrivateDir, PRIVATE_FILE_MODE, syncDir, writeAllSync } from "@evgrid/kit/private-files";
import type { Journal, SessionRecord } from "./journal.ts";

/** One charge detail record: what billing needs of an ended session, one JSON object per line. */
export interface ChargeDetailRecord {
  sessionId: string;
  substationId: string;
  vehicleId: string;
  owner: string;
  startedAt: string;
  endedAt: string;
  deliveredKwh: number;
  endReason: EndReason | null;
}

export function cdrOf(rec: SessionRecord, substationId: string): ChargeDetailRecord {
  return {
    sessionId: rec.sessionId,
    substationId,
    vehicleId: rec.vehicleId,
    owner: rec.owner,
    startedAt: new Date(rec.startedAtMs).toISOString(),
    endedAt: new Date(rec.endedAtMs ?? rec.startedAtMs).toISOString(),
    deliveredKwh: rec.deliveredKwh,
    endReason: rec.endReason,
  };
}

/** `<substation>-YYYY-MM-DD.jsonl`, by the UTC day the session ended: one file a day, easy to ship and rotate. */
export const cdrFileName = (substationId: string, endedAtMs: number) =>
  `${substationId}-${new Date(endedAtMs).toISOString().slice(0, 10)}.jsonl`;

/**
 * Appends `text` and syncs it to disk before returning, so a record is on disk before its session is marked
 * exported (and may then be pruned). If the write fails (disk full), the file is cut back to where it was:
 * it never holds half a line.
 */
export function appendDurably(path: string, text: string): void {
  const fd = openSync(path, "a", PRIVATE_FILE_MODE);
  let first = false;
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE); // a file an older version made 0644
    const sizeBefore = fstatSync(fd).size;
    first = sizeBefore === 0; // a new file, or one whose first write failed and was cut back
    try {
      writeAllSync(fd, text); // a short write finished, or cut back below: never half a line
      fdatasyncSync(fd);
    } catch (err) {
      try {
        ftruncateSync(fd, sizeBefore);
      } catch {}
      throw err;
    }
  } finally {
    closeSync(fd);
  }
  // A new day file's name is on disk too (its directory synced), or a power loss could keep the export's
  // position past records whose file is gone; and the directory's own name, in case it was made by a run
  // that stopped before it synced it.
  if (first) {
    syncDir(dirname(path));
    syncDir(dirname(dirname(path)));
  }
}

/** Appends the records of `recs` to their day files in `dir`, each file synced before this returns. */
export function writeRecords(dir: string, substationId: string, recs: readonly SessionRecord[]): void {
  if (recs.length === 0) return;
  const byFile = new Map<string, string[]>();
  for (const rec of recs) {
    const file = cdrFileName(substationId, rec.endedAtMs ?? rec.startedAtMs);
    const lines = byFile.get(file) ?? [];
    lines.push(JSON.stringify(cdrOf(rec, substationId)));
    byFile.set(file, lines);
  }
  ensurePrivateDir(dir, { durable: true });
  for (const [file, lines] of byFile) appendDurably(join(dir, file), `${lines.join("\n")}\n`);
}

/** A batch for the export thread (cdr-worker.ts): up to `limit` ends after `afterSeq`. */
export interface ExportJob {
  id: number;
  dbPath: string;
  dir: string;
  substationId: string;
  afterSeq: number;
  limit: number;
}
export type ExportResult = { id: number; count: number; throughSeq: number } | { id: number; error: string };

/**
 * Exports ended sessions from the journal as charge detail records (JSON Lines), in the order their ends were
 * journaled, then moves the export's position past them (one write per batch, no mark per session). The
 * reading, formatting and fsync run on a thread of their own (cdr-worker.ts), off the event loop that admits
 * sessions; a journal in memory has no file to share, so its export runs here. Only events before the
 * position are ever pruned. At least once: a crash between the append and the move writes those lines again
 * on the next run, so consumers dedupe by `sessionId`.
 */
export class CdrExport {
  private users = false;

  constructor(
    readonly dir: string,
    private readonly substationId: string,
    private readonly journal: Journal,
  ) {}

  /** Exports up to `limit` sessions; resolves to how many. Rejects (nothing moved) if a file cannot be written. */
  async exportBatch(limit: number): Promise<number> {
    const afterSeq = this.journal.exportedThroughSeq();
    // Nothing ended since: no thread woken, nothing read.
    if (this.journal.lastEndSeq <= afterSeq) return 0;
    const job = {
      dbPath: this.journal.path,
      dir: this.dir,
      substationId: this.substationId,
      afterSeq,
      limit,
    };
    let done: ExportResult;
    if (this.journal.path === ":memory:") done = this.here(afterSeq, limit);
    else {
      if (!this.users) exportThread.users += 1;
      this.users = true;
      done = await exportThread.run(job);
    }
    if ("error" in done) throw new Error(done.error);
    if (done.count > 0) this.journal.markExported(done.throughSeq);
    return done.count;
  }

  /** Lets go of the export thread (the last one to go stops it; a batch in flight is exported again later). */
  close(): void {
    if (!this.users) return;
    this.users = false;
    exportThread.release(this.journal.path);
  }

  private here(afterSeq: number, limit: number): ExportResult {
    const recs = this.journal.unexported(limit, afterSeq);
    writeRecords(this.dir, this.substationId, recs);
    return { id: 0, count: recs.length, throughSeq: recs.at(-1)?.seq ?? afterSeq };
  }
}

/**
 * One export thread per process, shared by every substation it hosts (SUBSTATION_SITES: a thread each would
 * be a JavaScript heap each). Started on the first batch, stopped when the last export lets go of it.
 */
const exportThread = {
  worker: undefined as Worker | undefined,
  users: 0,
  nextId: 0,
  waiting: new Map<number, (r: ExportResult) => void>(),
  run(job: Omit<ExportJob, "id">): Promise<ExportResult> {
    if (!this.worker) {
      const worker = new Worker(new URL("./cdr-worker.ts", import.meta.url).href);
      worker.onmessage = (e: MessageEvent<ExportResult>) => {
        this.waiting.get(e.data.id)?.(e.data);
        this.waiting.delete(e.data.id);
      };
      // A thread that died (an uncaught error ends it) answers nothing more: its batches fail, and the next
      // batch starts another, rather than every later round waiting for it forever.
      const died = () => {
        if (this.worker === worker) this.stop("the export thread stopped");
      };
      worker.addEventListener("error", died);
      worker.addEventListener("close", died);
      worker.unref(); // housekeeping: never what keeps the process alive
      this.worker = worker;
    }
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker?.postMessage({ ...job, id });
    });
  },
  release(dbPath: string): void {
    this.users -= 1;
    this.worker?.postMessage({ close: dbPath });
    if (this.users > 0) return;
    this.stop("export stopped");
  },
  stop(error: string): void {
    const worker = this.worker;
    this.worker = undefined; // first: a 'close' that terminate() fires is then not this thread's any more
    worker?.terminate();
    for (const resolve of this.waiting.values()) resolve({ id: -1, error });
    this.waiting.clear();
  },
};
