import { closeSync, fchmodSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { EndReason } from "@evgrid/contract";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "@evgrid/kit/private-files";
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
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE); // a file an older version made 0644
    const sizeBefore = fstatSync(fd).size;
    try {
      writeSync(fd, text);
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
}

/**
 * Exports ended sessions from the journal as charge detail records (JSON Lines), in the order their ends were
 * journaled, and moves the export's position past them (one write per batch, no mark per session; the read is
 * a range of the log's rowid, which admissions never touch). Only events before that position are ever
 * pruned. At least once: a crash between the append and the move writes those lines again on the next run,
 * so consumers dedupe by `sessionId`.
 */
export class CdrExport {
  constructor(
    readonly dir: string,
    private readonly substationId: string,
    private readonly journal: Journal,
  ) {}

  /** Exports up to `limit` sessions; returns how many. Throws (nothing marked) if a file cannot be written. */
  exportBatch(limit: number): number {
    const recs = this.journal.unexported(limit);
    if (recs.length === 0) return 0;
    const byFile = new Map<string, string[]>();
    for (const rec of recs) {
      const file = cdrFileName(this.substationId, rec.endedAtMs ?? rec.startedAtMs);
      const lines = byFile.get(file) ?? [];
      lines.push(JSON.stringify(cdrOf(rec, this.substationId)));
      byFile.set(file, lines);
    }
    ensurePrivateDir(this.dir);
    for (const [file, lines] of byFile) appendDurably(join(this.dir, file), `${lines.join("\n")}\n`);
    this.journal.markExported(recs[recs.length - 1]?.seq ?? 0);
    return recs.length;
  }
}
