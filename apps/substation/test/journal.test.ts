import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import type { Journal, JournalGroup } from "../src/journal.ts";
import { diskHog } from "./disk-hog.ts";
import { dbPath, nextTurn, open, refusal, refusalOf, req } from "./fixtures.ts";
import { boot, crash } from "./journal-boot.ts";

/** Records every group the journal is asked to commit (whether it takes it or not), then commits it. */
function spyCommits(journal: Journal): JournalGroup[] {
  const groups: JournalGroup[] = [];
  const commit = journal.commit.bind(journal);
  journal.commit = (group) => {
    groups.push(group);
    commit(group);
  };
  return groups;
}

describe("journal and recovery", () => {
  test("after a crash every active session comes back with its id, start time and remaining time", async () => {
    const path = dbPath();
    const first = boot(path);
    const ids: Session[] = [];
    for (const i of [0, 1, 2])
      ids.push((await first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 }))).session);
    // Right after the answers: an admission is answered only once journaled.
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 3, endedWhileDown: 0, curtailed: 0 });
    for (const s of ids) {
      expect(second.station.get(s.sessionId)).toMatchObject({
        status: "active",
        vehicleId: s.vehicleId,
        startedAt: s.startedAt,
        expectedEndAt: s.expectedEndAt,
      });
    }
    expect(second.station.load()).toMatchObject({
      activeSessions: 3,
      committedMinKw: expect.closeTo(12.6, 9),
    });
    // And it is the authority again: admission continues from the recovered minimums.
    await second.station.start(req({ vehicleId: "ev-new", durationS: 600 }));
    expect(second.station.load().activeSessions).toBe(4);
  });

  test("a session whose time is up before its admission is committed (a stalled process) is journaled as ended", async () => {
    // Found by test/substation/retention.test.ts on a busy machine: the end was written before the start
    // in one group, so the row stayed "active" and was never exported nor pruned.
    const b = boot(dbPath());
    open.push(b.station, b.journal);
    await b.recovery;
    const admitted = b.station.start(req({ vehicleId: "ev-stalled", durationS: 0.2 }));
    b.clock.advance(1_000); // the end timer fires before this turn's group commit runs
    const { session } = await admitted;
    await nextTurn();
    expect(b.station.get(session.sessionId).status).toBe("ended");
    expect(b.journal.find(session.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
    expect(b.journal.active()).toEqual([]);
  });

  test("sessions whose time passed while the substation was down are ended, and stay queryable", async () => {
    const path = dbPath();
    const first = boot(path);
    const short = (await first.station.start(req({ vehicleId: "short", durationS: 5 }))).session;
    const long = (await first.station.start(req({ vehicleId: "long", durationS: 600 }))).session;
    crash(first);

    // Back a minute later.
    const second = boot(path, 100, manualScheduler(first.clock.now() + 60_000));
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 1, endedWhileDown: 1, curtailed: 0 });
    expect(second.station.get(short.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
    expect(second.station.get(long.sessionId).status).toBe("active");
  });

  test("an energy-based session resumes with the energy it had drawn at the last checkpoint, no more", async () => {
    const path = dbPath();
    const first = boot(path);
    const e = (await first.station.start(req({ vehicleId: "e", maxKw: 11, energyKwh: 10 }))).session;
    // The 2 s checkpoints run; the crash comes 1.5 s after the last one, whose energy is lost.
    first.clock.advance(6000);
    // The hand-driven clock moves 7.5 s within one turn of the event loop; on a real one the last checkpoint's
    // turn ends, and its group commit runs, long before 1.5 s have passed.
    await nextTurn();
    first.clock.advance(1500);
    expect(first.station.get(e.sessionId).deliveredKwh).toBeCloseTo((11 * 7.5) / 3600, 9);
    crash(first);

    const second = boot(path, 100, first.clock);
    open.push(second.station, second.journal);
    expect(second.recovery.resumed).toBe(1);
    expect(second.station.get(e.sessionId).deliveredKwh).toBeCloseTo((11 * 6) / 3600, 9);
  });

  test("stopped sessions stay stopped, and the operator limit survives a restart", async () => {
    const path = dbPath();
    const first = boot(path);
    const a = (await first.station.start(req({ vehicleId: "a", durationS: 600 }))).session;
    first.station.stop(a.sessionId);
    // A stop is journaled by the group commit of its turn (a crash within that very turn loses it, and
    // recovery resumes the session until its time); the operator limit is written before it is answered.
    await nextTurn();
    first.station.setLimit(40);
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    expect(second.station.get(a.sessionId)).toMatchObject({ status: "ended", endReason: "stopped" });
    expect(second.station.load()).toMatchObject({ activeSessions: 0, limitKw: 40, effectiveCapacityKw: 40 });
  });

  test("if the capacity shrank while down, the newest recovered sessions are curtailed, the oldest kept", async () => {
    const path = dbPath();
    const first = boot(path, 100);
    const ids: string[] = [];
    for (const i of [0, 1, 2, 3])
      ids.push((await first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 }))).session.sessionId);
    crash(first);

    const second = boot(path, 9); // now room for two 4.2 kW minimums
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 2, endedWhileDown: 0, curtailed: 2 });
    expect(ids.map((id) => second.station.get(id).status)).toEqual(["active", "active", "ended", "ended"]);
  });
});

describe("idempotency across a restart", () => {
  test("a retried key gets the same session from the recovered substation, and the vehicle stays unique", async () => {
    const path = dbPath();
    const first = boot(path);
    const s = (await first.station.start(req({ vehicleId: "ev", idempotencyKey: "order-1", durationS: 600 })))
      .session;
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    const retry = await second.station.start(
      req({ vehicleId: "ev", idempotencyKey: "order-1", durationS: 600 }),
    );
    expect(retry).toMatchObject({ replayed: true, session: { sessionId: s.sessionId, status: "active" } });
    await expect(second.station.start(req({ vehicleId: "ev", durationS: 600 }))).rejects.toThrow(
      expect.objectContaining({ reason: "VEHICLE_ALREADY_CHARGING" }),
    );
    expect(second.station.load().activeSessions).toBe(1);
  });
});

describe("group commit", () => {
  test("the admissions of one turn are journaled in one transaction, each answered only after it", async () => {
    const path = dbPath();
    const first = boot(path, 1000);
    const groups = spyCommits(first.journal);
    const commitsWhenAnswered: number[] = [];
    const started = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 })).then((r) => {
          commitsWhenAnswered.push(groups.length);
          return r;
        }),
      ),
    );
    expect(groups.map((g) => g.starts.length)).toEqual([50]);
    expect(commitsWhenAnswered).toEqual(Array(50).fill(1));
    expect(started.map((r) => r.replayed)).toEqual(Array(50).fill(false));
    const ids = started.map((r) => r.session.sessionId);
    expect(new Set(ids).size).toBe(50);
    first.station.close();
    first.journal.close();

    const second = boot(path, 1000);
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 50, endedWhileDown: 0, curtailed: 0 });
    expect(second.station.load().activeSessions).toBe(50);
    expect(second.journal.active().map((r) => r.sessionId)).toEqual(ids);
  });

  test("a group the journal cannot take refuses every admission in it, and undoes them all", async () => {
    const path = dbPath();
    const CAP_MB = 0.2;
    const { station, journal } = boot(path, 1000, manualScheduler(5_000_000), { maxMb: CAP_MB });
    open.push(station, journal);
    const kept = (await station.start(req({ vehicleId: "kept", durationS: 600 }))).session;
    const before = station.load();
    // Something else takes every page left: the group's rows cannot all fit (about 30 would, alone, in the free
    // bytes of the pages the journal already has: the transaction takes none of them).
    const hog = diskHog(path, CAP_MB);
    open.push(hog);
    hog.take(Number.POSITIVE_INFINITY);
    const groups = spyCommits(journal);

    const keyed = (i: number) =>
      req({
        vehicleId: `ev-${i}`,
        durationS: 600,
        idempotencyKey: `order-${i}`,
        owner: "key:0000000000000001",
      });
    const attempts = Array.from({ length: 100 }, (_, i) => station.start(keyed(i)));
    // A retry within the same turn waits for the first one's commit, and shares its fate.
    attempts.push(station.start(keyed(7)));
    const refusals = await Promise.all(attempts.map(refusalOf));
    for (const err of refusals)
      expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "JOURNAL_UNAVAILABLE" });
    expect(groups.map((g) => g.starts.length)).toEqual([100]);

    // Undone, in memory and in the journal: nothing of the group is left, not even half of it.
    const after = station.load();
    const fields = ["activeSessions", "committedMinKw", "demandKw", "allocatedKw", "headroomKw"] as const;
    for (const field of fields)
      expect({ field, value: after[field] }).toEqual({ field, value: before[field] });
    expect(station.list("all", 1000).map((s) => s.sessionId)).toEqual([kept.sessionId]);
    const refusedIds = groups[0]?.starts.map((s) => s.sessionId) ?? [];
    expect(refusedIds).toHaveLength(100);
    for (const id of refusedIds) {
      expect(journal.find(id)).toBeNull();
      expect(refusal(() => station.get(id)).reason).toBe("SESSION_NOT_FOUND");
    }
    expect(journal.active().map((r) => r.sessionId)).toEqual([kept.sessionId]);

    // Once there is room, the same vehicles with the same keys are admitted anew: no key and no vehicle was
    // left holding a session that was never answered.
    hog.free();
    const again = await Promise.all(Array.from({ length: 100 }, (_, i) => station.start(keyed(i))));
    for (const r of again) {
      expect(r).toMatchObject({ replayed: false, session: { status: "active" } });
      expect(refusedIds).not.toContain(r.session.sessionId);
    }
    expect(station.load().activeSessions).toBe(101);
    expect(journal.active()).toHaveLength(101);
  });
});
