/**
 * A booking that ended `moved` to this substation, stopped by its owner (stopMoved): the session it goes on
 * in here is stopped, or, while its car still waits for room, recorded ended before it began, so that when
 * room comes the car is never admitted for it, across a restart too.
 */
import { describe, expect, test } from "bun:test";
import { manualScheduler, movedSessionId } from "@evgrid/kit";
import type { Journal } from "../src/journal.ts";
import { dbPath, nextTurn, open, refusalOf, req } from "./fixtures.ts";
import { boot, crash } from "./journal-boot.ts";

const OWNER = "key:0123456789abcdef";
const movedFrom = `sub-b.${"d".repeat(32)}`;
const booking = { movedFrom, owner: OWNER, vehicleId: "ev-moved", minKw: 4.2, maxKw: 11 };
/** The gateway's admission for the booking (its car at a charger here). */
const goesOn = () => req({ vehicleId: "ev-moved", owner: OWNER, movedFrom, energyKwh: 20 });

/** The journal's next group commit fails (a full disk), the ones after it work again. */
function failNextCommit(journal: Journal): void {
  const commit = journal.commit.bind(journal);
  journal.commit = () => {
    journal.commit = commit;
    throw new Error("database or disk is full");
  };
}

describe("a moved booking stopped by its owner at the substation it went to", () => {
  test("not admitted yet: ended before it began, and never admitted, after a restart too", async () => {
    const path = dbPath();
    const first = boot(path, 100);
    const { session } = await first.station.stopMoved(booking);
    expect(session).toMatchObject({
      sessionId: movedSessionId("sub-a", movedFrom),
      vehicleId: "ev-moved",
      owner: OWNER,
      status: "ended",
      endReason: "stopped",
      deliveredKwh: 0,
    });
    const refused = await refusalOf(first.station.start(goesOn()));
    expect({ code: refused.code, reason: refused.reason }).toEqual({
      code: "CONFLICT",
      reason: "BOOKING_ALREADY_MOVED",
    });
    // Asked again (a retry, another replica): the same end, not a second record.
    expect((await first.station.stopMoved(booking)).session).toEqual(session);
    await nextTurn(); // the end's group commit
    crash(first);

    const second = boot(path, 100);
    open.push(second.station, second.journal);
    expect(second.station.get(session.sessionId)).toMatchObject({ status: "ended", endReason: "stopped" });
    const again = await refusalOf(second.station.start(goesOn()));
    expect(again.reason).toBe("BOOKING_ALREADY_MOVED");
    expect(second.station.list("active", 10)).toEqual([]);
  });

  test("a restart between its start and its end in the journal: ended by its time, never resumed", async () => {
    const path = dbPath();
    const first = boot(path, 100);
    await first.station.stopMoved(booking);
    crash(first); // before the end's group commit: only its start is in the journal
    // The next process, a few milliseconds later.
    const second = boot(path, 100, manualScheduler(first.clock.now() + 10));
    open.push(second.station, second.journal);
    expect(second.station.list("active", 10)).toEqual([]);
    expect(second.station.get(movedSessionId("sub-a", movedFrom))).toMatchObject({
      status: "ended",
      deliveredKwh: 0,
    });
    expect((await refusalOf(second.station.start(goesOn()))).reason).toBe("BOOKING_ALREADY_MOVED");
  });

  test("admitted already: that session is stopped, and its power goes to the others", async () => {
    const b = boot(dbPath(), 100);
    open.push(b.station, b.journal);
    const there = (await b.station.start(goesOn())).session;
    const { session, load } = await b.station.stopMoved(booking);
    expect(session).toMatchObject({ sessionId: there.sessionId, status: "ended", endReason: "stopped" });
    expect(load.activeSessions).toBe(0);
  });

  test("another owner's: not found, and the session goes on", async () => {
    const b = boot(dbPath(), 100);
    open.push(b.station, b.journal);
    const there = (await b.station.start(goesOn())).session;
    const stranger = await refusalOf(b.station.stopMoved({ ...booking, owner: "key:fedcba9876543210" }));
    expect(stranger.reason).toBe("SESSION_NOT_FOUND");
    expect(b.station.get(there.sessionId).status).toBe("active");
  });

  test("a record the journal could not take is not kept: the owner's retry records it, across a restart too", async () => {
    const path = dbPath();
    const first = boot(path, 100);
    failNextCommit(first.journal);
    expect((await refusalOf(first.station.stopMoved(booking))).reason).toBe("JOURNAL_UNAVAILABLE");
    // Before: the record stayed in memory only, so the retry was answered from it and never journaled.
    expect((await first.station.stopMoved(booking)).session).toMatchObject({ status: "ended" });
    await nextTurn(); // the end's group commit
    crash(first);
    const second = boot(path, 100);
    open.push(second.station, second.journal);
    expect((await refusalOf(second.station.start(goesOn()))).reason).toBe("BOOKING_ALREADY_MOVED");
  });

  test("an admission in flight whose journal write fails: the stop waits for it, and records the booking ended", async () => {
    const b = boot(dbPath(), 100);
    open.push(b.station, b.journal);
    failNextCommit(b.journal);
    const admission = refusalOf(b.station.start(goesOn()));
    // Before: the stop ended the admission in flight, which its failed write then undid, record and all.
    const { session } = await b.station.stopMoved(booking);
    expect(session).toMatchObject({ status: "ended", endReason: "stopped", deliveredKwh: 0 });
    expect((await admission).reason).toBe("JOURNAL_UNAVAILABLE");
    // The gateway asks again for the car: refused, as the owner stopped it.
    expect((await refusalOf(b.station.start(goesOn()))).reason).toBe("BOOKING_ALREADY_MOVED");
    expect(b.station.list("active", 10)).toEqual([]);
  });
});
