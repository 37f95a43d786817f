import { afterEach, describe, expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema, type PowerEvent } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import { CROSSING_LEAD_S, shareAtLevel } from "@evgrid/policy";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { dbPath, nextTurn, open, refusalOf } from "./fixtures.ts";

const HOUR_MS = 3_600_000;
/** A hand-driven clock that starts at the wall clock's now, as departures are wall-clock times. */
let clock = manualScheduler(Date.now());
const stations: Station[] = [];
const station = (capacityKw: number, reshareMinMs?: number) => {
  const s = new Station({
    id: "sub-a",
    capacityKw,
    now: clock.now,
    scheduler: clock,
    ...(reshareMinMs === undefined ? {} : { reshareMinMs }),
  });
  stations.push(s);
  return s;
};
afterEach(() => {
  for (const s of stations.splice(0)) s.close();
  clock = manualScheduler(Date.now());
});
/** A request leaving `inH` hours from the clock's now. */
const leaving = (vehicleId: string, energyKwh: number, inH: number, over: Record<string, unknown> = {}) =>
  dispatchRequestSchema.parse({
    vehicleId,
    maxKw: 22,
    energyKwh,
    departAt: new Date(clock.now() + inH * HOUR_MS).toISOString(),
    ...over,
  }) as DispatchRequest;

describe("Station with departures", () => {
  test("of two cars wanting 20 kWh, the one leaving in 1 h gets more than the one leaving in 8 h, both on track", async () => {
    // Above the 4.2 kW minimums 30 - 8.4 = 21.6 kW; both have slack (laxity 1 h - 20/22 h = 327 s), so the
    // earliest departure is front-loaded to its 22 kW maximum (+17.8) and the late one has the rest, 4.2 + 3.8.
    const s = station(30);
    const early = (await s.start(leaving("early", 20, 1))).session;
    const late = (await s.start(leaving("late", 20, 8))).session;
    expect(s.get(early.sessionId)).toMatchObject({ allocatedKw: 22, onTrack: true, projectedKwh: 20 });
    // 8 kW for 8 h is 64 kWh: on track with room to spare.
    expect(s.get(late.sessionId)).toMatchObject({ allocatedKw: 8, onTrack: true, projectedKwh: 20 });
    expect(s.load().allocatedKw).toBeCloseTo(30, 9);
  });

  test("without departures the shares are today's: equal", async () => {
    const s = station(30);
    const a = (await s.start(dispatchRequestSchema.parse({ vehicleId: "a", maxKw: 22, energyKwh: 20 })))
      .session;
    await s.start(dispatchRequestSchema.parse({ vehicleId: "b", maxKw: 22, energyKwh: 20 }));
    expect(s.get(a.sessionId)).toMatchObject({ allocatedKw: 15, departAt: null, onTrack: null });
  });

  test("a session ends at its departure if its energy is not delivered by then", async () => {
    const s = station(30);
    const a = (await s.start(leaving("a", 100, 1))).session;
    expect(a).toMatchObject({ onTrack: false, maxDeliverableKwh: 22 });
    clock.advance(HOUR_MS);
    expect(s.get(a.sessionId)).toMatchObject({ status: "ended", endReason: "departed" });
    expect(s.get(a.sessionId).deliveredKwh).toBeCloseTo(22, 6);
  });

  test("a departure timer that fires late counts energy up to the departure only", async () => {
    const late = { now: clock.now, schedule: (run: () => void, ms: number) => clock.schedule(run, ms + 500) };
    const s = new Station({ id: "sub-a", capacityKw: 30, now: clock.now, scheduler: late });
    stations.push(s);
    const { session } = await s.start(leaving("ev", 100, 1 / 60, { maxKw: 11 })); // out of reach in 1 min
    clock.advance(61_000);
    expect(s.get(session.sessionId)).toMatchObject({
      status: "ended",
      endReason: "departed",
      deliveredKwh: expect.closeTo(11 / 60, 9), // 11 kW for the minute, not the 0.5 s after it
    });
  });

  test("strict: energy its maximum cannot deliver in time is refused, saying how much it could", async () => {
    const s = station(30);
    const err = await refusalOf(s.start(leaving("a", 100, 1, { strict: true })));
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.reason).toBe("DEPARTURE_UNREACHABLE");
    expect(err.details).toMatchObject({ field: "energyKwh", maxDeliverableKwh: 22 });
    expect(s.load().activeSessions).toBe(0);
  });

  test("the gateway's level event carries the lifted floors: its shares add up to the station's", async () => {
    const s = station(30);
    const early = (await s.start(leaving("early", 20, 1))).session;
    const late = (await s.start(leaving("late", 20, 8))).session;
    const events = s.watchPower();
    const first = (await events.next()).value as Extract<PowerEvent, { type: "level" }>;
    await events.return(undefined);
    const share = (x: typeof early) =>
      shareAtLevel({ minKw: first.floorsKw?.[x.sessionId] ?? x.minKw, maxKw: x.maxKw }, first.levelKw);
    // As above: the early one at its 22 kW maximum, the late one the rest of 30 kW.
    expect(share(early)).toBeCloseTo(22, 9);
    expect(share(late)).toBeCloseTo(8, 9);
  });

  /**
   * On 24 kW, a: 20 kWh in 2 h at up to 12 kW (slack 2 h - 20/12 h = 1200 s); b: 42.5 kWh in 3 h at up to
   * 15 kW (slack 3 h - 42.5/15 h = 600 s). Above the minimums 24 - 8.4 = 15.6 kW: a leaves first, so it is
   * lifted to its 12 kW maximum (+7.8) and b has the rest, 4.2 + 7.8 = 12 kW (36 kWh by its departure: behind
   * for now). b's slack falls by 1 - 12/15 = 0.2 s per s: it is down to CROSSING_LEAD_S after
   * (600 - lead) / 0.2 s, long before a is full (6000 s). Then b is lifted to its required rate (energy left /
   * time left, just under its maximum) and a has the rest. The 60 s guard is not paid: no re-share falls
   * within b's last 60 s of slack, so nothing lifts it earlier.
   */
  const crossingMs = ((600 - CROSSING_LEAD_S) / 0.2) * 1000;
  const liftedKw = () => {
    const leftKwh = 42.5 - (12 * crossingMs) / HOUR_MS;
    return (leftKwh * HOUR_MS) / (3 * HOUR_MS - crossingMs);
  };
  const slackRunsOut = async () => {
    const s = station(24, 60_000);
    const a = (await s.start(leaving("a", 20, 2, { maxKw: 12 }))).session;
    const b = (await s.start(leaving("b", 42.5, 3, { maxKw: 15 }))).session;
    expect(s.get(a.sessionId)).toMatchObject({ allocatedKw: 12, onTrack: true });
    expect(s.get(b.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(12, 9),
      onTrack: false,
      projectedKwh: expect.closeTo(36, 9),
    });
    const before = s.load().version;
    // The old rule lifted b a guard early, at (600 - 60) / 0.2 = 2700 s: still 12 kW well past that.
    clock.advance(crossingMs - 1000);
    expect(s.load().version).toBe(before);
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(12, 9);
    return { s, a, b, before };
  };

  test("a re-share when a car runs out of slack, not a guard before", async () => {
    const { s, a, b, before } = await slackRunsOut();
    clock.advance(2000);
    expect(s.load().version).toBeGreaterThan(before);
    const lifted = s.get(b.sessionId);
    expect(lifted).toMatchObject({ onTrack: true, projectedKwh: expect.closeTo(42.5, 6) });
    expect(lifted.allocatedKw).toBeGreaterThan(12);
    expect(lifted.allocatedKw).toBeLessThanOrEqual(15);
    expect(s.get(a.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(24 - lifted.allocatedKw, 9),
      onTrack: true,
    });
  });

  test("the re-share at the crossing lifts the car out of slack (one re-share, exact rate)", async () => {
    const { s, a, b, before } = await slackRunsOut();
    clock.advance(1500);
    expect(s.load().version).toBe(before + 1);
    // To 5 digits: the timer rounds up to the next millisecond (the departure is a whole millisecond too).
    expect(s.get(b.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(liftedKw(), 5),
      onTrack: true,
      projectedKwh: expect.closeTo(42.5, 6),
    });
    expect(s.get(a.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(24 - liftedKw(), 5),
      onTrack: true,
    });
  });

  test("re-shares for crossings are bounded by SUBSTATION_RESHARE_MIN_MS, from one to the next", async () => {
    // b alone on 12 kW with a 1100 s bound: 535/12 kWh in 3 h at up to 15 kW is 100 s of slack, falling
    // 0.2 s a second at 12 kW. No timed re-share came before, so the first is at its crossing (slack down to
    // CROSSING_LEAD_S, 498.75 s); it can no longer make it 1.25 s later, and that re-share waits for the bound.
    const s = station(12, 1_100_000);
    const b = (await s.start(leaving("b", 535 / 12, 3, { maxKw: 15 }))).session;
    expect(s.get(b.sessionId)).toMatchObject({ allocatedKw: 12, onTrack: false });
    const before = s.load().version;
    clock.advance(498_000);
    expect(s.load().version).toBe(before);
    clock.advance(1000);
    expect(s.load().version).toBe(before + 1);
    clock.advance(1_098_000);
    expect(s.load().version).toBe(before + 1);
    clock.advance(2000);
    expect(s.load().version).toBe(before + 2);
    expect(s.get(b.sessionId)).toMatchObject({ allocatedKw: 12, onTrack: false });
  });

  test("a re-share an event causes neither waits for the bound nor holds the timer back", async () => {
    // The same b; at 400 s the operator sets a limit above the capacity: a re-share at once, no share
    // changed. b's crossing still re-shares at 498.75 s, not at 400 s + the bound.
    const s = station(12, 1_100_000);
    const b = (await s.start(leaving("b", 535 / 12, 3, { maxKw: 15 }))).session;
    const before = s.load().version;
    clock.advance(400_000);
    s.setLimit(20);
    expect(s.load().version).toBe(before + 1);
    clock.advance(98_000);
    expect(s.load().version).toBe(before + 1);
    clock.advance(1000);
    expect(s.load().version).toBe(before + 2);
    expect(s.get(b.sessionId)).toMatchObject({ allocatedKw: 12, onTrack: false });
  });
});

describe("departures across a restart, and to a watcher", () => {
  test("a restart keeps a session's departure: it still shares by need, and ends then", async () => {
    const path = dbPath();
    const boot = () => {
      const journal = new Journal(path);
      const s = new Station({ id: "sub-a", capacityKw: 30, journal, now: clock.now, scheduler: clock });
      open.push(journal);
      s.recover();
      return s;
    };
    const first = boot();
    const early = (await first.start(leaving("early", 20, 1))).session;
    const late = (await first.start(leaving("late", 20, 8))).session;
    first.close();
    await nextTurn();
    const again = boot();
    stations.push(again);
    // Still front-loaded as before the restart: 22 kW and 8 kW (see the first test).
    expect(again.get(early.sessionId)).toMatchObject({
      allocatedKw: 22,
      departAt: early.departAt,
      onTrack: true,
    });
    expect(again.get(late.sessionId)).toMatchObject({ allocatedKw: 8, departAt: late.departAt });
    // At 22 kW its 20 kWh are in after 20/22 h, before its departure.
    clock.advance(Math.ceil((20 / 22) * HOUR_MS));
    expect(again.get(early.sessionId)).toMatchObject({ status: "ended", endReason: "energy_delivered" });
  });

  test("the car's needs (NotifyEVChargingNeeds) turn a walk-in into a departure session, journaled", async () => {
    const path = dbPath();
    const journal = new Journal(path);
    open.push(journal);
    const s = new Station({ id: "sub-a", capacityKw: 30, journal, now: clock.now, scheduler: clock });
    stations.push(s);
    const walkIn = (
      await s.start(dispatchRequestSchema.parse({ vehicleId: "w", maxKw: 22, durationS: 8 * 3600 }))
    ).session;
    const other = (
      await s.start(dispatchRequestSchema.parse({ vehicleId: "n", maxKw: 22, durationS: 8 * 3600 }))
    ).session;
    expect(s.get(walkIn.sessionId).allocatedKw).toBe(15);
    const departAt = new Date(clock.now() + HOUR_MS).toISOString();
    s.setNeeds({ sessionId: walkIn.sessionId, energyKwh: 20, departAt });
    // A departure with slack: lifted to its 22 kW maximum, the walk-in without one has the rest (8 kW).
    expect(s.get(walkIn.sessionId)).toMatchObject({
      allocatedKw: 22,
      durationS: null,
      energyKwh: 20,
      onTrack: true,
    });
    expect(s.get(other.sessionId).allocatedKw).toBeCloseTo(8, 9);
    expect(journal.find(walkIn.sessionId)).toMatchObject({
      energyKwh: 20,
      durationS: null,
      departAtMs: Date.parse(departAt),
    });
  });

  test("a watcher sees projectedKwh and onTrack with each change of power", async () => {
    const s = station(30);
    const a = (await s.start(leaving("a", 20, 1))).session;
    // Stopped through its signal, as a subscriber is: return() alone would wait for a next event.
    const stop = new AbortController();
    const updates = s.watchSession(a.sessionId, undefined, stop.signal);
    expect((await updates.next()).value).toMatchObject({ allocatedKw: 22, projectedKwh: 20, onTrack: true });
    const next = updates.next();
    const b = (await s.start(leaving("b", 25, 1))).session;
    // 45 kWh in an hour on 30 kW. b cannot make it even at 22 kW, so it goes before a, which has slack
    // (1 h - 20/22 h = 327 s): b at its 22 kW maximum, a the rest, 4.2 + 3.8 = 8 kW, short at that rate.
    expect((await next).value).toMatchObject({ allocatedKw: 8, projectedKwh: 8, onTrack: false });
    expect(s.get(b.sessionId)).toMatchObject({ allocatedKw: 22, projectedKwh: 22, onTrack: false });
    // a's slack falls by 1 - 8/22 = 14/22 s per s: it is down to CROSSING_LEAD_S after 327.02 x 22/14 =
    // 513.9 s, having 1.14 kWh. Out of slack, it is lifted to its required rate, 18.86 kWh in 3086.1 s =
    // 22 x 3085.9 / 3086.1 = 21.998 kW, and on track again; b has the rest.
    const lifted = updates.next();
    clock.advance(600_000);
    expect((await lifted).value).toMatchObject({
      allocatedKw: expect.closeTo(21.995, 2), // 21.998 at 513.9 s; 21.993 if lifted a whole guard early
      projectedKwh: expect.closeTo(20, 6),
      onTrack: true,
    });
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(30 - 21.995, 2);
    stop.abort();
    await updates.return(undefined);
  });
});
