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

const requests = Number(process.env.REQUESTS ?? 4000);
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const holdMs = Number(process.env.HOLD_MS ?? 50);
const retentionS = Number(process.env.RETENTION_S ?? 2);
const sync = (process.env.SUBSTATION_SYNC ?? "normal") as JournalSync;

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
const journal = new Journal(join(dir, "substation.sqlite"), { sync });
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let next = 0;
async function user(u: number) {
  while (next < requests) {
    const i = next++;
    // Half energy-based (checkpointed), half time-based, as chargers ask.
    const shape = i % 2 === 0 ? { maxKw: 11, energyKwh: 50 } : { durationS: 3600 };
    const { session } = await station.start(
      dispatchRequestSchema.parse({ vehicleId: `ev-${u}-${i}`, ...shape }),
    );
    await sleep(holdMs);
    station.stop(session.sessionId);
  }
}
const startMs = performance.now();
const before = changes();
const statementsBefore = statements;
await Promise.all(Array.from({ length: concurrency }, (_, u) => user(u)));
// Let the last ends commit, then one retention round exports and prunes what the run left.
await sleep(retentionS * 1000 + 50);
await retention.tick();
const elapsedS = (performance.now() - startMs) / 1000;
const rows = changes() - before;
const stats = (journal as unknown as { stats?: Record<string, number> }).stats;
console.log(
  JSON.stringify({
    sync,
    requests,
    concurrency,
    holdMs,
    elapsedS: Number(elapsedS.toFixed(1)),
    reqPerS: Math.round(requests / elapsedS),
    writeStatementsPerRequest: Number(((statements - statementsBefore) / requests).toFixed(2)),
    rowsWritten: rows,
    rowsPerRequest: Number((rows / requests).toFixed(2)),
    ...(stats ? { commitsPerRequest: Number(((stats.commits ?? 0) / requests).toFixed(3)), stats } : {}),
  }),
);
await retention.stop();
station.close();
journal.close();
rmSync(dir, { recursive: true, force: true });
