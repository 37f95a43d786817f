import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";

const dirs: string[] = [];
const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "evgrid-journal-"));
  dirs.push(dir);
  return join(dir, "substation.sqlite");
}

/** A substation process: a journal on `path` and a station on it. "Crashing" = dropping both unclosed. */
function boot(path: string, capacityKw = 100, now?: () => number) {
  const journal = new Journal(path);
  const station = new Station({ id: "sub-a", capacityKw, journal, ...(now ? { now } : {}) });
  const recovery = station.recover();
  return { journal, station, recovery };
}
const req = (o: Record<string, unknown>) => dispatchRequestSchema.parse({ vehicleId: "ev", ...o });

describe("journal and recovery", () => {
  test("after a crash every active session comes back with its id, start time and remaining time", () => {
    const path = dbPath();
    const first = boot(path);
    const ids = [0, 1, 2].map(
      (i) => first.station.start(req({ vehicleId: `ev-${i}`, durationS: 600 })).session,
    );
    // Crash: no close, no final checkpoint. Timers of the dead station must not fire into the test.
    first.station.close();

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
    let clock = 1_000_000;
    const first = boot(path, 100, () => clock);
    const short = first.station.start(req({ vehicleId: "short", durationS: 5 })).session;
    const long = first.station.start(req({ vehicleId: "long", durationS: 600 })).session;
    first.station.close();

    clock += 60_000; // down for a minute
    const second = boot(path, 100, () => clock);
    open.push(second.station, second.journal);
    expect(second.recovery).toEqual({ resumed: 1, endedWhileDown: 1, curtailed: 0 });
    expect(second.station.get(short.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
    expect(second.station.get(long.sessionId).status).toBe("active");
  });

  test("an energy-based session resumes with the energy it had drawn at the last checkpoint", () => {
    const path = dbPath();
    let clock = 5_000_000;
    const first = boot(path, 100, () => clock);
    const e = first.station.start(req({ vehicleId: "e", maxKw: 11, energyKwh: 10 })).session;
    clock += 3_600_000 / 11; // one kWh at 11 kW
    first.station.checkpoint();
    first.station.close();

    const second = boot(path, 100, () => clock);
    open.push(second.station, second.journal);
    expect(second.station.get(e.sessionId).deliveredKwh).toBeCloseTo(1, 6);
    expect(second.recovery.resumed).toBe(1);
  });

  test("stopped sessions stay stopped, and the operator limit survives a restart", () => {
    const path = dbPath();
    const first = boot(path);
    const a = first.station.start(req({ vehicleId: "a", durationS: 600 })).session;
    first.station.stop(a.sessionId);
    first.station.setLimit(40);
    first.station.close();

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
    first.station.close();

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
    first.station.close();

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
