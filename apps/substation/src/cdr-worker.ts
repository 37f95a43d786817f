/**
 * The charge-detail-record export, on a thread of its own: it reads ended sessions from the journal through
 * a read-only connection (WAL: readers never wait for the writer, nor hold it up) and appends them to the
 * day files with an fsync, none of which then runs on the event loop that admits sessions. The main thread
 * moves the export's position once a batch is on disk (cdr.ts), so the journal keeps a single writer.
 */
import { Database } from "bun:sqlite";
import { type ExportJob, type ExportResult, writeRecords } from "./cdr.ts";
import { type EventRow, QUERIES, recordOf } from "./journal-events.ts";

declare const self: Worker;

const connections = new Map<string, Database>();

self.onmessage = (event: MessageEvent<ExportJob | { close: string }>) => {
  if ("close" in event.data) {
    // That journal closed: its reader goes too.
    connections.get(event.data.close)?.close();
    connections.delete(event.data.close);
    return;
  }
  const job = event.data;
  let result: ExportResult;
  try {
    let db = connections.get(job.dbPath);
    if (!db) {
      db = new Database(job.dbPath, { readonly: true, strict: true });
      connections.set(job.dbPath, db);
    }
    const rows = db.query(QUERIES.unexported).all({ afterSeq: job.afterSeq, limit: job.limit }) as EventRow[];
    writeRecords(job.dir, job.substationId, rows.map(recordOf));
    result = { id: job.id, count: rows.length, throughSeq: rows.at(-1)?.seq ?? job.afterSeq };
  } catch (err) {
    result = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  postMessage(result);
};
