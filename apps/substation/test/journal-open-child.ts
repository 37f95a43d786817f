/**
 * For journal-columns.test.ts, in a process of its own (its file size limit is the test's full disk): opens
 * the journal at argv[2], tries one admission, and prints what came of both as JSON.
 */
import { Journal } from "../src/journal.ts";

let out: Record<string, unknown>;
try {
  const journal = new Journal(process.argv[2] as string);
  const start = {
    sessionId: "sub-a.new",
    vehicleId: "ev-new",
    minKw: 1,
    maxKw: 11,
    startedAtMs: 9_000_000,
    durationS: 600,
    energyKwh: null,
    idempotencyKey: null,
    owner: "operator",
    priority: "standard" as const,
    departAtMs: null,
  };
  let admitted: string;
  try {
    journal.commit({ ends: [], starts: [start], checkpoint: [] });
    admitted = "written";
  } catch {
    admitted = "refused";
  }
  out = { opened: true, active: journal.active().length, admitted };
} catch (err) {
  out = { opened: false, error: (err as Error).message };
}
console.log(JSON.stringify(out));
process.exit(0);
