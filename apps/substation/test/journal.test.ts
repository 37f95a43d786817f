import { describe, expect, test } from "bun:test";
import { manualScheduler } from "@evgrid/kit";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { dbPath, open, req } from "./fixtures.ts";

/**
 * A substation process: a journal on `path` and a station on it, on a clock that moves only when told (so a
 * "crashed" station, dropped without closing, never runs a timer again). A crash leaves no last checkpoint.
 */
function boot(path: string, capacityKw = 100, clock = manualScheduler(5_000_000)) {
  const journal = new Journal(path);
  const station = new Station({ id: "sub-a", capacityKw, journal, now: clock.now, scheduler: clock });
  const recovery = station.recover();
  return { journal, station, recovery, clock };
}
/** A crash: the process is gone mid-flight. Its file handle goes with it; nothing is flushed or closed. */
const crash = (b: ReturnType<typeof boot>) => open.push(b.journal);

describe("journal and recovery", () => {
  test("after a crash every active session comes back with its id, start time and remaining time", () => {
    const path = dbPath();
    const first = boot(path);
    const ids = [0, 1, 2].map(
      (i) => first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 })).session,
    );
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
    second.station.start(req({ vehicleId: "ev-new", durationS: 600 }));
    expect(second.station.load().activeSessions).toBe(4);
  });

  test("sessions whose time passed while the substation was down are ended, and stay queryable", () => {
    const path = dbPath();
    const first = boot(path);
    const short = first.station.start(req({ vehicleId: "short", durationS: 5 })).session;
    const long = first.station.start(req({ vehicleId: "long", durationS: 600 })).session;
    crash(first);

    // Back a minute later.
    const second = boot(path, 100, manualScheduler(first.clock.now() + 60_000));
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 1, endedWhileDown: 1, curtailed: 0 });
    expect(second.station.get(short.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
    expect(second.station.get(long.sessionId).status).toBe("active");
  });

  test("an energy-based session resumes with the energy it had drawn at the last checkpoint, no more", () => {
    const path = dbPath();
    const first = boot(path);
    const e = first.station.start(req({ vehicleId: "e", maxKw: 11, energyKwh: 10 })).session;
    // The 2 s checkpoints run; the crash comes 1.5 s after the last one, whose energy is lost.
    first.clock.advance(6000);
    first.clock.advance(1500);
    expect(first.station.get(e.sessionId).deliveredKwh).toBeCloseTo((11 * 7.5) / 3600, 9);
    crash(first);

    const second = boot(path, 100, first.clock);
    open.push(second.station, second.journal);
    expect(second.recovery.resumed).toBe(1);
    expect(second.station.get(e.sessionId).deliveredKwh).toBeCloseTo((11 * 6) / 3600, 9);
  });

  test("stopped sessions stay stopped, and the operator limit survives a restart", () => {
    const path = dbPath();
    const first = boot(path);
    const a = first.station.start(req({ vehicleId: "a", durationS: 600 })).session;
    first.station.stop(a.sessionId);
    first.station.setLimit(40);
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    expect(second.station.get(a.sessionId)).toMatchObject({ status: "ended", endReason: "stopped" });
    expect(second.station.load()).toMatchObject({ activeSessions: 0, limitKw: 40, effectiveCapacityKw: 40 });
  });

  test("if the capacity shrank while down, the newest recovered sessions are curtailed, the oldest kept", () => {
    const path = dbPath();
    const first = boot(path, 100);
    const ids = [0, 1, 2, 3].map(
      (i) => first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 })).session.sessionId,
    );
    crash(first);

    const second = boot(path, 9); // now room for two 4.2 kW minimums
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 2, endedWhileDown: 0, curtailed: 2 });
    expect(ids.map((id) => second.station.get(id).status)).toEqual(["active", "active", "ended", "ended"]);
  });
});

describe("idempotency across a restart", () => {
  test("a retried key gets the same session from the recovered substation, and the vehicle stays unique", () => {
    const path = dbPath();
    const first = boot(path);
    const s = first.station.start(
      req({ vehicleId: "ev", idempotencyKey: "order-1", durationS: 600 }),
    ).session;
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    const retry = second.station.start(req({ vehicleId: "ev", idempotencyKey: "order-1", durationS: 600 }));
    expect(retry).toMatchObject({ replayed: true, session: { sessionId: s.sessionId, status: "active" } });
    expect(() => second.station.start(req({ vehicleId: "ev", durationS: 600 }))).toThrow(
      expect.objectContaining({ reason: "VEHICLE_ALREADY_CHARGING" }),
    );
    expect(second.station.load().activeSessions).toBe(1);
  });
});
