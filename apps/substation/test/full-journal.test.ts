import { describe, expect, test } from "bun:test";
import { Journal } from "../src/journal.ts";
import { JournalHealth, type JournalOp } from "../src/journal-writes.ts";
import { Station } from "../src/station.ts";
import { diskHog } from "./disk-hog.ts";
import { dbPath, nextTurn, open, refusal, refusalOf, req } from "./fixtures.ts";

/** A station on a journal capped at `maxMb`, counting journal errors by op. */
function boot(path: string, maxMb?: number, now?: () => number) {
  const journal = new Journal(path, maxMb === undefined ? {} : { maxMb });
  const errors: Partial<Record<JournalOp, number>> = {};
  const health = new JournalHealth({ count: (op) => (errors[op] = (errors[op] ?? 0) + 1) });
  const station = new Station({
    id: "sub-a",
    capacityKw: 1_000_000,
    journal,
    journalHealth: health,
    checkpointMs: 60_000, // the tests tick it themselves
    ...(now ? { now } : {}),
  });
  const recovery = station.recover();
  open.push(station, journal);
  return { journal, station, recovery, errors };
}

const CAP_MB = 0.2;

/** Starts sessions, one a turn, until the journal refuses one; returns the ones admitted. */
async function fill(station: Station, prefix: string, energy = false) {
  const admitted: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const shape = energy ? { maxKw: 11, energyKwh: 100 } : { durationS: 3600 };
    try {
      admitted.push((await station.start(req({ vehicleId: `${prefix}-${i}`, ...shape }))).session.sessionId);
    } catch (err) {
      expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "JOURNAL_UNAVAILABLE" });
      return admitted;
    }
  }
  throw new Error("the journal never filled up");
}

/**
 * Stops sessions, one a turn, until an end no longer fits (ends grow rows, so the journal takes some after
 * admissions stopped fitting); returns the ones whose end is waiting.
 */
async function stopUntilEndsWait(station: Station, ids: string[]): Promise<string[]> {
  for (const [i, id] of ids.entries()) {
    station.stop(id);
    await nextTurn(); // the group commit of the stop's turn
    if (station.pendingJournalWrites > 0) return ids.slice(i, i + 1);
  }
  throw new Error("every end fitted");
}

describe("a full journal", () => {
  test("refuses an admission it cannot write with 503 JOURNAL_UNAVAILABLE, leaving no trace in memory", async () => {
    const { station, errors } = boot(dbPath(), CAP_MB);
    for (let i = 0; ; i++) {
      const before = station.load();
      let err: unknown;
      try {
        await station.start(req({ vehicleId: `ev-${i}`, maxKw: 1 + (i % 20), durationS: 3600 }));
        continue;
      } catch (e) {
        err = e;
      }
      expect(i).toBeGreaterThan(100);
      expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "JOURNAL_UNAVAILABLE" });
      // The SQLite message stays in the substation's log; the caller gets a stable reason.
      expect((err as Error).message).not.toContain("disk");
      // The admission took its share until its commit failed, then gave it back: the load is as before, in
      // a newer version (a report made meanwhile showed the admission).
      const after = station.load();
      expect(after).toEqual({ ...before, measuredAtMs: expect.any(Number), version: expect.any(Number) });
      expect(after.version).toBeGreaterThan(before.version);
      expect(errors.start).toBe(1);
      return;
    }
  });

  test("setLimit and setDraining are refused without changing memory, and a restart agrees", async () => {
    const path = dbPath();
    const first = boot(path, CAP_MB);
    const hog = diskHog(path, CAP_MB);
    open.push(hog);
    await fill(first.station, "ev");
    hog.packSettings();
    expect(refusal(() => first.station.setLimit(50))).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      reason: "JOURNAL_UNAVAILABLE",
    });
    expect(refusal(() => first.station.setDraining(true)).reason).toBe("JOURNAL_UNAVAILABLE");
    expect(first.station.load()).toMatchObject({ limitKw: null, draining: false });
    // Nobody was curtailed for a limit that was refused.
    expect(first.station.list("ended", 10)).toEqual([]);
    expect(first.errors.setting).toBe(2);
    first.station.close();
    first.journal.close();

    const second = boot(path, CAP_MB);
    expect(second.station.load()).toMatchObject({ limitKw: null, draining: false });
    // Once there is room, the same calls are journaled, answered and kept.
    hog.free();
    second.station.setLimit(50);
    second.station.setDraining(true);
    second.station.close();
    second.journal.close();
    expect(boot(path, CAP_MB).station.load()).toMatchObject({ limitKw: 50, draining: true });
  });

  test("ends that cannot be written wait, and land once there is room again", async () => {
    const path = dbPath();
    const hog = diskHog(path, CAP_MB);
    open.push(hog);
    // A clock that stands still: nothing drawn, so the energy checkpoint takes no room of its own.
    const { station, journal, errors } = boot(path, CAP_MB, () => 5_000_000);
    hog.take(5);
    const admitted = await fill(station, "ev");
    const [firstWaiting] = await stopUntilEndsWait(station, admitted);
    // Every end after the first that waits waits too: the journal takes them in order.
    const later = admitted.slice(-20);
    for (const id of later) expect(station.stop(id).session.status).toBe("ended");
    await nextTurn(); // no group commit of theirs in this turn: they wait for the next retry
    expect(station.pendingJournalWrites).toBe(21);
    expect(errors.end).toBe(1); // the later ones join the queue without a write each
    station.checkpoint(); // a retry that still finds no room
    expect(station.pendingJournalWrites).toBe(21);
    expect(errors.end).toBe(2);
    expect(journal.find(firstWaiting as string)?.status).toBe("active");

    hog.free(); // five pages of room again
    station.checkpoint();
    expect(station.pendingJournalWrites).toBe(0);
    for (const id of [firstWaiting as string, ...later])
      expect(journal.find(id)).toMatchObject({ status: "ended", endReason: "stopped" });
  });

  test("the energy checkpoint never throws when the journal cannot take it", async () => {
    const { station, journal, errors } = boot(dbPath(), CAP_MB);
    const admitted = await fill(station, "e", true);
    // Whether a checkpoint still fits after admissions stopped depends on the bytes left in each page; here
    // it does not, whatever SQLite says.
    const commit = journal.commit.bind(journal);
    journal.commit = (group) => {
      if (group.checkpoint.length > 0) throw new Error("database or disk is full");
      commit(group);
    };
    for (let i = 0; i < 3; i++) {
      expect(() => station.checkpoint()).not.toThrow();
      await nextTurn(); // its group commit, which fails without throwing either
    }
    expect(errors.checkpoint).toBe(3);
    expect(station.pendingJournalWrites).toBe(1);
    expect(station.load().activeSessions).toBe(admitted.length);
  });

  test("a restart on a full journal comes up and ends what ended while it was down", async () => {
    const path = dbPath();
    let clock = 2_000_000;
    const first = boot(path, CAP_MB, () => clock);
    const short = (await first.station.start(req({ vehicleId: "short", durationS: 5 }))).session.sessionId;
    const admitted = await fill(first.station, "ev");
    await stopUntilEndsWait(first.station, admitted);
    first.station.close();
    first.journal.close();

    clock += 60_000;
    const second = boot(path, CAP_MB, () => clock);
    expect(second.recovery.endedWhileDown).toBe(1);
    expect(second.station.get(short)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
    await nextTurn(); // the group commit of recovery's turn, which cannot take that end
    expect(second.station.pendingJournalWrites).toBeGreaterThan(0);
    // A new admission would have to write that end first: refused, never half-written.
    expect((await refusalOf(second.station.start(req({ vehicleId: "new" })))).reason).toBe(
      "JOURNAL_UNAVAILABLE",
    );
  });
});
