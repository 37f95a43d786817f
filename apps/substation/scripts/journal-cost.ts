/**
 * What the journal costs per request served: a station on a real journal (in this process, no HTTP, so
 * `strace -c -f -e trace=pwrite64,fdatasync` counts the journal's and the export's system calls only) serves
 * REQUESTS sessions, CONCURRENCY at a time; each is admitted, charges HOLD_MS, and is stopped. Checkpoints
 * (every 2 s) and retention (export and pruning every second, RETENTION_S) run as in the app. Prints, per
 * request, the statements that wrote (INSERT, UPDATE, DELETE runs) and the rows they changed (total_changes()).
 *
 *   strace -c -f -e trace=pwrite64,fdatasync bun apps/substation/scripts/journal-cost.ts
 *   SUBSTATION_SYNC=full REQUESTS=3000 bun apps/substation/scripts/journal-cost.ts
 */
import { Database, type Statement } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { CdrExport } from "../src/cdr.ts";
import { Journal, type JournalSync } from "../src/journal.ts";
import { JournalHealth } from "../src/journal-writes.ts";
import { Retention } from "../src/retention.ts";
import { Station } from "../src/station.ts";
import { drive, loadLine, loadOf } from "./journal-load.ts";

const load = loadOf(4000);
const retentionS = Number(process.env.RETENTION_S ?? 2);

// Counts every statement that writes (INSERT, UPDATE, DELETE) as it runs: the journal's writes, old or new.
let statements = 0;
const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;
for (const method of ["prepare", "query"] as const) {
  const original = Database.prototype[method];
  Database.prototype[method] = function (this: Database, sql: string, ...rest: unknown[]) {
    const stmt = (original as (...a: unknown[]) => Statement).call(this, sql, ...rest);
    const marked = stmt as Statement & { counted?: boolean };
    if (WRITE.test(sql) && !marked.counted) {
      const run = stmt.run.bind(stmt);
      stmt.run = (...args: Parameters<Statement["run"]>) => {
        statements += 1;
        return run(...args);
      };
      marked.counted = true;
    }
    return stmt;
  } as never;
}

const dir = mkdtempSync(join(tmpdir(), "evgrid-journal-cost-"));
const journal = new Journal(join(dir, "substation.sqlite"), { sync: load.sync as JournalSync });
// The journal's own connection: total_changes() counts every row it inserted, updated or deleted.
const db = (journal as unknown as { db: Database }).db;
const changes = () => (db.query("SELECT total_changes() AS n").get() as { n: number }).n;
const health = new JournalHealth();
const station = new Station({ id: "sub-a", capacityKw: 1_000_000, journal, journalHealth: health });
const retention = new Retention({
  journal,
  retentionMs: retentionS * 1000,
  cdr: new CdrExport(join(dir, "cdr"), "sub-a", journal),
  health,
});
retention.start();

const startMs = performance.now();
const before = changes();
const statementsBefore = statements;
await drive(
  load,
  async (vehicleId, shape) =>
    (await station.start(dispatchRequestSchema.parse({ vehicleId, ...shape }))).session.sessionId,
  (sessionId) => station.stop(sessionId),
);
// Let the last ends commit, then one retention round exports and prunes what the run left.
await Bun.sleep(retentionS * 1000 + 50);
await retention.tick();
const elapsedS = (performance.now() - startMs) / 1000;
const rows = changes() - before;
console.log(
  JSON.stringify({
    ...loadLine(load, elapsedS),
    elapsedS: Number(elapsedS.toFixed(1)),
    writeStatementsPerRequest: Number(((statements - statementsBefore) / load.requests).toFixed(2)),
    rowsWritten: rows,
    rowsPerRequest: Number((rows / load.requests).toFixed(2)),
    commitsPerRequest: Number((journal.stats.commits / load.requests).toFixed(3)),
    stats: journal.stats,
  }),
);
await retention.stop();
station.close();
journal.close();
rmSync(dir, { recursive: true, force: true });
