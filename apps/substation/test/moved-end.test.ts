/**
 * A booking claimed at a charger of another substation ends `moved`, with the substation it went on at: the
 * balancer asks that one for the session there (findMovedSession), so the end must keep it across a
 * restart, from memory and from the journal alike; a journal from before it was kept still opens.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { Journal } from "../src/journal.ts";
import { dbPath, EVENTS_TABLE_V1, nextTurn, open, req } from "./fixtures.ts";
import { boot, crash } from "./journal-boot.ts";

describe("a moved end keeps where the booking went", () => {
  test("in memory, after a crash, and in the journal once memory has forgotten it", async () => {
    const path = dbPath();
    const first = boot(path);
    const booking = (await first.station.start(req({ energyKwh: 20 }))).session;
    const { session } = first.station.stop(booking.sessionId, undefined, "moved", "sub-b");
    expect(session).toMatchObject({ endReason: "moved", movedToSubstationId: "sub-b" });
    expect(first.station.get(booking.sessionId).movedToSubstationId).toBe("sub-b");
    await nextTurn(); // the end's group commit
    crash(first);

    const second = boot(path);
    open.push(second.station, second.journal);
    expect(second.station.get(booking.sessionId)).toMatchObject({
      status: "ended",
      endReason: "moved",
      movedToSubstationId: "sub-b",
    });
    expect(second.journal.find(booking.sessionId)?.movedToSubstationId).toBe("sub-b");
  });

  test("any other end names no destination, whatever the stop said", async () => {
    const b = boot(dbPath());
    open.push(b.station, b.journal);
    const booking = (await b.station.start(req({ energyKwh: 20 }))).session;
    const { session } = b.station.stop(booking.sessionId, undefined, "stopped", "sub-b");
    expect(session).toMatchObject({ endReason: "stopped" });
    expect("movedToSubstationId" in session).toBe(false);
    await nextTurn();
    expect(b.journal.find(booking.sessionId)?.movedToSubstationId).toBeNull();
  });
});

/** A log written before moved ends kept their destination: a moved end, and a session still active. */
const EVENTS_BEFORE_DESTINATIONS = `${EVENTS_TABLE_V1}
  INSERT INTO events (seq, kind, at_ms, session_id, vehicle_id, min_kw, max_kw, started_at_ms, energy_kwh,
    delivered_kwh, ended_at_ms, end_reason, owner, priority) VALUES
    (1, 'start', 1000, 'sub-a.moved', 'ev-m', 4.2, 11, 1000, 20, 0, NULL, NULL, 'key:1', 'standard'),
    (2, 'start', 1100, 'sub-a.active', 'ev-a', 4.2, 11, 1100, 20, 0, NULL, NULL, 'key:1', 'standard'),
    (3, 'end', 1200, 'sub-a.moved', 'ev-m', 4.2, 11, 1000, 20, 0.5, 1200, 'moved', 'key:1', 'standard');`;

test("a journal from before destinations were kept opens: its moved ends name none, new ones do", async () => {
  const path = dbPath();
  const old = new Database(path, { create: true });
  old.exec(EVENTS_BEFORE_DESTINATIONS);
  old.close();

  const first = boot(path, 100);
  expect(first.recovery).toMatchObject({ resumed: 1 });
  const legacy = first.station.get("sub-a.moved");
  expect(legacy).toMatchObject({ status: "ended", endReason: "moved" });
  expect("movedToSubstationId" in legacy).toBe(false);
  first.station.stop("sub-a.active", undefined, "moved", "sub-c");
  await nextTurn();
  crash(first);

  const again = new Journal(path);
  open.push(again);
  expect(again.find("sub-a.moved")?.movedToSubstationId).toBeNull();
  expect(again.find("sub-a.active")).toMatchObject({ endReason: "moved", movedToSubstationId: "sub-c" });
});
