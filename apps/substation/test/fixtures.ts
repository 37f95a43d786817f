/** What the substation's unit tests share: journals in temporary directories, removed after each test. */
import { afterEach } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type DispatchRequest, dispatchRequestSchema } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { scratchDir } from "@evgrid/testing/temp";

const dirs: string[] = [];
/** Journals and stations to close after the test (before their directories go). */
export const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A fresh directory, removed after the test (by the hook above, which only the first test file of a process
 * to import this runs), or else once the process's files have run (a scratch directory: the test preload).
 */
export function tempDir(prefix = "evgrid-substation-"): string {
  const dir = scratchDir(prefix);
  dirs.push(dir);
  return dir;
}

/** A journal path in a fresh directory. */
export const dbPath = (prefix?: string) => join(tempDir(prefix), "substation.sqlite");

/**
 * The journal's tables as the log was first made: before moved ends kept their destination and checkpoints
 * the meters' readings (an older journal, to open with today's code).
 */
export const EVENTS_TABLE_V1 = `
  CREATE TABLE events (seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'needs', 'checkpoint', 'end')), at_ms INTEGER NOT NULL,
    session_id TEXT, vehicle_id TEXT, min_kw REAL, max_kw REAL, started_at_ms INTEGER, duration_s REAL,
    energy_kwh REAL, delivered_kwh REAL, ended_at_ms INTEGER, end_reason TEXT, idempotency_key TEXT, owner TEXT,
    priority TEXT, depart_at_ms INTEGER, energies TEXT, from_seq INTEGER);
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);`;

/** A charge request as the balancer sends it (defaults filled in; vehicle "ev" unless given). */
export const req = (o: Record<string, unknown> = {}): DispatchRequest =>
  dispatchRequestSchema.parse({ vehicleId: "ev", ...o });

/** The typed refusal `fn` throws; anything else fails the test. */
export function refusal(fn: () => unknown): GridError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GridError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

/** The typed refusal `promise` rejects with; anything else, or an answer, fails the test. */
export async function refusalOf(promise: Promise<unknown>): Promise<GridError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof GridError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

/**
 * Resolves in a later turn of the event loop: by then the journal's group commit of this turn has run (the
 * ends and checkpoint written with it, or kept to retry if the journal refused them).
 */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
