/** A substation process for the journal's tests: a journal on a path and a station on it, on a manual clock. */
import { manualScheduler } from "@evgrid/kit";
import { Journal, type JournalOptions } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { open } from "./fixtures.ts";

/**
 * A journal on `path` and a station on it, on a clock that moves only when told (so a "crashed" station,
 * dropped without closing, never runs a timer again). A crash leaves no last checkpoint.
 */
export function boot(
  path: string,
  capacityKw = 100,
  clock = manualScheduler(5_000_000),
  journalOpts: JournalOptions = {},
) {
  const journal = new Journal(path, journalOpts);
  const station = new Station({ id: "sub-a", capacityKw, journal, now: clock.now, scheduler: clock });
  const recovery = station.recover();
  return { journal, station, recovery, clock };
}

/** A crash: the process is gone mid-flight. Its file handle goes with it; nothing is flushed or closed. */
export const crash = (b: ReturnType<typeof boot>) => open.push(b.journal);

/** A clean stop: the last checkpoint is written, then the files are closed. */
export function shutDown(b: ReturnType<typeof boot>): void {
  b.station.close();
  b.journal.close();
}
