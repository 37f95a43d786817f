import { describe, expect, test } from "bun:test";
import { manualScheduler } from "@evgrid/kit";
import { Journal } from "../src/journal.ts";
import type { CommitGrouping } from "../src/journal-writes.ts";
import { Station } from "../src/station.ts";
import { dbPath, nextTurn, open, req } from "./fixtures.ts";

/** A station on a fresh journal, on a clock that moves only when told (no checkpoint runs by itself). */
function boot(commitGrouping?: CommitGrouping) {
  const path = dbPath();
  const clock = manualScheduler(5_000_000);
  const journal = new Journal(path, { sync: "full" });
  const station = new Station({
    id: "sub-a",
    capacityKw: 10_000,
    journal,
    now: clock.now,
    scheduler: clock,
    ...(commitGrouping ? { commitGrouping } : {}),
  });
  station.recover();
  open.push(station, journal);
  return { path, journal, station, clock };
}

describe("group commit, counted (journal.stats: the commits and events metrics)", () => {
  test("50 admissions and their 50 ends: one event each, two commits, whatever the number of sessions", async () => {
    const { journal, station } = boot();
    const before = { ...journal.stats };
    const started = await Promise.all(
      Array.from({ length: 50 }, (_, i) => station.start(req({ vehicleId: `ev-${i}`, durationS: 600 }))),
    );
    for (const { session } of started) station.stop(session.sessionId);
    await nextTurn(); // the group commit of the stops' turn
    expect({
      commits: journal.stats.commits - before.commits,
      events: journal.stats.events - before.events,
    }).toEqual({ commits: 2, events: 100 });
  });

  test("a commit window groups admissions of many turns, each answered only once its group is committed", async () => {
    // A window far longer than the test: the group is committed when it reaches maxEvents, not by time.
    const { journal, station } = boot({ windowMs: 600_000, maxEvents: 10 });
    const commitsWhenAnswered: number[] = [];
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(
        station
          .start(req({ vehicleId: `ev-${i}`, durationS: 600 }))
          .then(() => commitsWhenAnswered.push(journal.stats.commits)),
      );
      await nextTurn(); // each admission in a turn of its own
      if (i < 9)
        expect({ i, commits: journal.stats.commits, answered: commitsWhenAnswered.length }).toEqual({
          i,
          commits: 0,
          answered: 0,
        });
    }
    await Promise.all(answers);
    expect(commitsWhenAnswered).toEqual(Array(10).fill(1));
    expect(journal.stats).toEqual({ commits: 1, events: 10 });
  });

  test("closing commits what a window still holds: nothing answered is lost", async () => {
    const { path, journal, station } = boot({ windowMs: 600_000, maxEvents: 1000 });
    const first = station.start(req({ vehicleId: "ev-1", durationS: 600 }));
    await nextTurn();
    expect(journal.stats.commits).toBe(0);
    station.close(); // SIGTERM's last flush
    const { session } = await first;
    const again = new Journal(path);
    open.push(again);
    expect(again.active().map((r) => r.sessionId)).toEqual([session.sessionId]);
  });
});
