/**
 * What a restart keeps of each session's energy, and what a refused start leaves behind (a review's findings):
 * every active session resumes with the energy it drew (time-based ones too, a metered one with its meter's),
 * one that ended while the substation was down is recorded with it, and a start the journal refused leaves
 * no key that could replay a session no restart knows.
 */
import { describe, expect, test } from "bun:test";
import { manualScheduler } from "@evgrid/kit";
import { dbPath, nextTurn, open, refusalOf, req } from "./fixtures.ts";
import { boot, shutDown } from "./journal-boot.ts";

describe("energy across a restart", () => {
  test("every active session resumes with what it drew: by its allocation, or by its charger's meter", async () => {
    const path = dbPath();
    const first = boot(path);
    const start = async (o: Record<string, unknown>) => (await first.station.start(req(o))).session.sessionId;
    const timed = await start({ vehicleId: "timed", maxKw: 11, durationS: 4 * 3600 });
    const ahead = await start({ vehicleId: "ahead", maxKw: 11, energyKwh: 40 });
    const behind = await start({ vehicleId: "behind", maxKw: 11, energyKwh: 10 });
    first.clock.advance(60_000);
    first.station.meter(ahead, 8); // the car drew more than its allocation integrates to (0.18 kWh)
    first.station.meter(behind, 0.1);
    first.clock.advance(7_200_000); // 2 h: behind's allocation integrates to 22 kWh; its car drew 5
    first.station.meter(behind, 5);
    await nextTurn();
    const before = [timed, ahead, behind].map((id) => first.station.get(id).deliveredKwh);
    expect(before[0]).toBeGreaterThan(5);
    shutDown(first);

    const second = boot(path, 100, first.clock);
    open.push(second.station, second.journal);
    await nextTurn();
    expect(second.recovery).toMatchObject({ resumed: 3, endedWhileDown: 0 });
    for (const [i, id] of [timed, ahead, behind].entries()) {
      expect(second.station.get(id)).toMatchObject({ status: "active" });
      expect(second.station.get(id).deliveredKwh).toBeCloseTo(before[i] as number, 6);
    }
  });

  test("a time-based session that ends while the substation is down is recorded with the energy it drew", async () => {
    const path = dbPath();
    const first = boot(path);
    const timed = (await first.station.start(req({ vehicleId: "t", maxKw: 11, durationS: 1200 }))).session;
    first.clock.advance(600_000); // 10 min at 11 kW: 1.83 kWh
    await nextTurn();
    shutDown(first);
    const second = boot(path, 100, manualScheduler(first.clock.now() + 3_600_000));
    open.push(second.station, second.journal);
    await nextTurn();
    expect(second.journal.find(timed.sessionId)).toMatchObject({
      status: "ended",
      deliveredKwh: expect.closeTo(11 / 6, 6),
    });
  });
});

test("a start the journal refused, whose session ended before the commit: its key starts a new session", async () => {
  const path = dbPath();
  const first = boot(path);
  const { station, journal, clock } = first;
  // The journal refuses the next group with a start in it (a full disk for that commit).
  const commit = journal.commit.bind(journal);
  let failStarts = true;
  journal.commit = (group) => {
    if (failStarts && group.starts.length > 0) throw new Error("database or disk is full");
    commit(group);
  };
  const refused = station.start(req({ vehicleId: "ev", durationS: 0.2, idempotencyKey: "K" }));
  clock.advance(1000); // its end comes before its group commit (a stalled turn)
  expect(await refusalOf(refused)).toMatchObject({ reason: "JOURNAL_UNAVAILABLE" });
  failStarts = false;
  // The caller was told nothing started: the retry starts the session, and the journal has it.
  const retry = await station.start(req({ vehicleId: "ev", durationS: 3600, idempotencyKey: "K" }));
  expect(retry.replayed).toBe(false);
  await nextTurn();
  expect(journal.find(retry.session.sessionId)).toMatchObject({ status: "active" });
  shutDown(first);
  // After a restart the key still means that session, and nothing else.
  const second = boot(path, 100, clock);
  open.push(second.station, second.journal);
  const again = await second.station.start(req({ vehicleId: "ev", durationS: 3600, idempotencyKey: "K" }));
  expect(again).toMatchObject({ replayed: true, session: { sessionId: retry.session.sessionId } });
});

test("a car's own maximum below its minimum: a restart, at every session's own minimum again, curtails no one", async () => {
  const path = dbPath();
  const first = boot(path, 10);
  const a = (await first.station.start(req({ vehicleId: "a", maxKw: 11, minKw: 4.2 }))).session;
  first.station.setCap(a.sessionId, 1, false, 1);
  await first.station.start(req({ vehicleId: "b", maxKw: 11, minKw: 4.2 }));
  // Its room was kept: a third 4.2 kW would be admitted only to be curtailed at the next restart.
  await expect(first.station.start(req({ vehicleId: "c", maxKw: 11, minKw: 4.2 }))).rejects.toMatchObject({
    reason: "INSUFFICIENT_CAPACITY",
  });
  await nextTurn();
  shutDown(first);
  const second = boot(path, 10, first.clock);
  open.push(second.station, second.journal);
  expect(second.recovery).toMatchObject({ resumed: 2, curtailed: 0 });
});
