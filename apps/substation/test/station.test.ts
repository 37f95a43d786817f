import { afterEach, describe, expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema } from "@evgrid/contract";
import { manualScheduler, movedSessionId } from "@evgrid/kit";
import { shareFairly } from "@evgrid/policy";
import { MAX_DRAW_SOURCES } from "../src/draw-holds.ts";
import { Station } from "../src/station.ts";
import { refusal, refusalOf } from "./fixtures.ts";

const req = (over: Record<string, unknown> = {}): DispatchRequest =>
  dispatchRequestSchema.parse({ vehicleId: "ev-1", ...over });
const stations: Station[] = [];
/** A station on a hand-driven clock: `clock.advance(ms)` runs its session ends and energy goals exactly. */
let clock = manualScheduler();
const station = (capacityKw: number, limitKw: number | null = null) => {
  const s = new Station({ id: "sub-a", capacityKw, limitKw, now: clock.now, scheduler: clock });
  stations.push(s);
  return s;
};
afterEach(() => {
  clock = manualScheduler();
});
afterEach(() => {
  for (const s of stations.splice(0)) s.close();
});

describe("Station admission", () => {
  test("admits while minimums fit and refuses the next with the binding constraint and the load", async () => {
    const s = station(42);
    for (let i = 0; i < 10; i++) await s.start(req({ vehicleId: `ev-${i}`, durationS: 60 }));
    const err = await refusalOf(s.start(req({ vehicleId: "ev-late", durationS: 60 })));
    expect(err.code).toBe("TOO_MANY_REQUESTS");
    expect(err.reason).toBe("INSUFFICIENT_CAPACITY");
    expect(err.details?.load).toMatchObject({ activeSessions: 10, committedMinKw: expect.closeTo(42, 6) });
    expect(s.load()).toMatchObject({ activeSessions: 10, allocatedKw: 42, utilization: 1, headroomKw: 0 });
  });

  test("names the operator limit when it is the constraint", async () => {
    const s = station(150, 8);
    await s.start(req({ durationS: 60 }));
    expect((await refusalOf(s.start(req({ vehicleId: "ev-2", durationS: 60 })))).reason).toBe(
      "OPERATOR_LIMIT",
    );
  });

  test("shares power fairly and reports each session's allocation", async () => {
    const s = station(30);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, durationS: 60 }))).session;
    expect(a.allocatedKw).toBe(22);
    await s.start(req({ vehicleId: "b", maxKw: 22, durationS: 60 }));
    expect(s.get(a.sessionId).allocatedKw).toBe(15);
    expect(s.load()).toMatchObject({ allocatedKw: 30, demandKw: 44, committedMinKw: 8.4 });
  });
});

describe("a booking that goes on here (claimed at a charger of this substation, booked at another)", () => {
  test("its session's id is derived from the booking's; one booking goes on in one session", async () => {
    const s = station(50);
    const movedFrom = `sub-b.${"c".repeat(32)}`;
    const moved = { vehicleId: "ev-moved", owner: "key:0123456789abcdef", movedFrom, energyKwh: 20 };
    const first = await s.start(req({ ...moved, idempotencyKey: "ocpp:cp-1:1" }));
    expect(first.session).toMatchObject({
      sessionId: movedSessionId("sub-a", movedFrom),
      owner: "key:0123456789abcdef",
    });
    // Its own retry is answered; another request to go on with the same booking is refused, typed.
    const retry = await s.start(req({ ...moved, idempotencyKey: "ocpp:cp-1:1" }));
    expect(retry).toMatchObject({ replayed: true, session: { sessionId: first.session.sessionId } });
    s.stop(first.session.sessionId);
    const again = await refusalOf(s.start(req({ ...moved, idempotencyKey: "ocpp:cp-2:1" })));
    expect({ code: again.code, reason: again.reason }).toEqual({
      code: "CONFLICT",
      reason: "BOOKING_ALREADY_MOVED",
    });
  });

  test("the booking it left ends moved", async () => {
    const s = station(50);
    const booking = (await s.start(req({ energyKwh: 20 }))).session;
    expect(s.stop(booking.sessionId, undefined, "moved").session).toMatchObject({
      status: "ended",
      endReason: "moved",
    });
  });
});

describe("Station session ends", () => {
  test("a session ends by itself when its time is up and its power goes to the others at once", async () => {
    const s = station(30);
    const long = (await s.start(req({ vehicleId: "long", maxKw: 22, durationS: 60 }))).session;
    const short = (await s.start(req({ vehicleId: "short", maxKw: 22, durationS: 0.15 }))).session;
    expect(s.get(long.sessionId).allocatedKw).toBe(15);
    clock.advance(149);
    expect(s.get(short.sessionId).status).toBe("active");
    clock.advance(1);
    expect(s.get(short.sessionId)).toMatchObject({
      status: "ended",
      endReason: "time_elapsed",
      allocatedKw: 0,
    });
    expect(s.get(long.sessionId).allocatedKw).toBe(22);
    expect(s.load().activeSessions).toBe(1);
  });

  test("stopSession frees the power immediately and the session stays queryable", async () => {
    const s = station(30);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, durationS: 60 }))).session;
    const b = (await s.start(req({ vehicleId: "b", maxKw: 22, durationS: 60 }))).session;
    const { session, load } = s.stop(a.sessionId);
    expect(session).toMatchObject({ status: "ended", endReason: "stopped" });
    expect(load.activeSessions).toBe(1);
    expect(s.get(b.sessionId).allocatedKw).toBe(22);
    // Stopping twice is harmless and answers the same ended session.
    expect(s.stop(a.sessionId).session.endReason).toBe("stopped");
  });

  test("an energy-based session ends once its energy is delivered", async () => {
    const s = station(50);
    // 11 kW for 0.0011 kWh = 0.36 s.
    const e = (await s.start(req({ maxKw: 11, energyKwh: 0.0011 }))).session;
    expect(e.energyKwh).toBe(0.0011);
    expect(e.expectedEndAt).toBe(new Date(360).toISOString());
    clock.advance(359);
    expect(s.get(e.sessionId).status).toBe("active");
    clock.advance(1);
    const done = s.get(e.sessionId);
    expect(done).toMatchObject({ status: "ended", endReason: "energy_delivered" });
    expect(done.deliveredKwh).toBeCloseTo(0.0011, 4);
  });

  test("unknown session ids are NOT_FOUND with reason SESSION_NOT_FOUND", () => {
    const err = refusal(() => station(10).get(`sub-a.${"0".repeat(32)}`));
    expect([err.code, err.reason]).toEqual(["NOT_FOUND", "SESSION_NOT_FOUND"]);
  });
});

describe("Station operator limit", () => {
  test("lowering the limit re-shares at once and curtails the newest sessions that no longer fit", async () => {
    const s = station(100);
    const ids: string[] = [];
    for (const i of [0, 1, 2, 3])
      ids.push((await s.start(req({ vehicleId: `ev-${i}`, durationS: 60 }))).session.sessionId);
    expect(s.load().allocatedKw).toBe(44);
    const { load, curtailed } = s.setLimit(10);
    expect(curtailed.map((c) => c.sessionId)).toEqual([ids[3], ids[2]] as string[]);
    expect(curtailed.every((c) => c.endReason === "curtailed")).toBe(true);
    expect(load).toMatchObject({ effectiveCapacityKw: 10, activeSessions: 2, allocatedKw: 10 });
    expect(s.setLimit(null).load.allocatedKw).toBe(22);
  });
});

describe("Station draw holds (power drawn at the site that no session holds)", () => {
  test("come off the capacity and the limit: shares lowered, admissions refused, nobody curtailed", async () => {
    const s = station(100, 60);
    for (const i of [0, 1, 2, 3]) await s.start(req({ vehicleId: `ev-${i}`, durationS: 60 }));
    const committedMinKw = s.load().committedMinKw;
    const first = s.setDrawHold("ocpp-gateway", 40);
    expect(first).toMatchObject({ capacityKw: 100, limitKw: 60, heldDrawKw: 40, effectiveCapacityKw: 20 });
    expect(first.allocatedKw).toBe(20);
    // A second source adds to it: 60 - 50 = 10 kW, below the four minimums. A charger's meter alone does not
    // end anyone's session: they keep their minimums, and nothing new fits.
    const second = s.setDrawHold("other-source", 10);
    expect(second).toMatchObject({ heldDrawKw: 50, effectiveCapacityKw: 10, activeSessions: 4 });
    expect(second.allocatedKw).toBe(committedMinKw);
    const refused = await refusalOf(s.start(req({ vehicleId: "ev-late", durationS: 60 })));
    expect([refused.code, refused.reason]).toEqual(["TOO_MANY_REQUESTS", "OPERATOR_LIMIT"]);
    expect(refused.message).toContain("operator limit 60 kW less 50 kW held for draws no session holds");
    // Nor does an operator's limit, judged without the holds, nor a pin (a review: both ended sessions).
    expect(s.setLimit(60).curtailed).toEqual([]);
    const pinned = s.list("active", 1)[0]?.sessionId as string;
    expect(s.setCap(pinned, 22, true).allocatedKw).toBeGreaterThan(0);
    expect(s.load().activeSessions).toBe(4);
    s.setCap(pinned, null);
    // 0 lifts a source's hold; the same hold again changes nothing.
    expect(s.setDrawHold("other-source", 0)).toMatchObject({ heldDrawKw: 40, effectiveCapacityKw: 20 });
    const version = s.load().version;
    expect(s.setDrawHold("ocpp-gateway", 40).version).toBe(version);
    expect(s.setDrawHold("ocpp-gateway", 0)).toMatchObject({ heldDrawKw: 0, allocatedKw: 44 });
  });

  test("a bounded number of sources: one more is refused, and says why", () => {
    const s = station(100);
    for (let i = 0; i < MAX_DRAW_SOURCES; i++) s.setDrawHold(`source-${i}`, 1);
    const err = refusal(() => s.setDrawHold("one-too-many", 1));
    expect([err.code, err.reason, err.details]).toEqual([
      "CONFLICT",
      "DRAW_HOLDS_FULL",
      { field: "source", limit: MAX_DRAW_SOURCES },
    ]);
    expect(s.load()).toMatchObject({
      heldDrawKw: MAX_DRAW_SOURCES,
      effectiveCapacityKw: 100 - MAX_DRAW_SOURCES,
    });
    s.setDrawHold("source-0", 0); // a source lifting its hold makes room
    expect(s.setDrawHold("one-too-many", 1).heldDrawKw).toBe(MAX_DRAW_SOURCES);
  });
});

describe("Station power classes", () => {
  test("energy integrates across a re-share: a session slows when another arrives and ends later", async () => {
    const s = station(22);
    // Alone at 22 kW: 0.004 kWh would take 0.65 s.
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, energyKwh: 0.004 }))).session;
    clock.advance(200);
    // Now both get 11 kW: a's remaining 0.0027778 kWh takes another 909 ms, ending at 1,109 ms.
    await s.start(req({ vehicleId: "b", maxKw: 22, durationS: 60 }));
    expect(s.get(a.sessionId).allocatedKw).toBe(11);
    clock.advance(700);
    expect(s.get(a.sessionId).status).toBe("active");
    clock.advance(210);
    const done = s.get(a.sessionId);
    expect(done).toMatchObject({ status: "ended", endReason: "energy_delivered" });
    expect(done.deliveredKwh).toBeCloseTo(0.004, 4);
    expect(s.energyDeliveredKwh()).toBeGreaterThanOrEqual(0.004);
  });

  test("per-session allocations in mixed classes equal water-filling over the individual sessions", async () => {
    const s = station(200);
    const kinds = [
      { maxKw: 3.7 },
      { maxKw: 7.4, minKw: 1.4 },
      { maxKw: 11 },
      { maxKw: 22 },
      { maxKw: 50, minKw: 20 },
    ];
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const kind = kinds[i % kinds.length] as Record<string, number>;
      try {
        ids.push((await s.start(req({ vehicleId: `ev-${i}`, durationS: 60, ...kind }))).session.sessionId);
      } catch {
        // Refused once the minimums are spoken for: fine, the rest must still be shared right.
      }
    }
    const sessions = s.list("active", 1000);
    const expected = shareFairly(sessions, 200);
    sessions.forEach((x, i) => {
      expect(x.allocatedKw).toBeCloseTo(expected[i] as number, 9);
    });
    const total = sessions.reduce((acc, x) => acc + x.allocatedKw, 0);
    expect(total).toBeCloseTo(s.load().allocatedKw, 9);
    expect(total).toBeLessThanOrEqual(200 + 1e-9);
  });
});
