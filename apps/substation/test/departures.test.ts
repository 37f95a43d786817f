import { afterEach, describe, expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema, type PowerEvent } from "@evgrid/contract";
import { manualScheduler } from "@evgrid/kit";
import { shareAtLevel } from "@evgrid/policy";
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
   * On 24 kW, a: 20 kWh in 2 h at up to 12 kW; b: 40 kWh in 3 h at up to 15 kW; both have 1200 s of slack
   * (2 h - 20/12 h; 3 h - 40/15 h). Above the minimums 24 - 8.4 = 15.6 kW: a leaves first, so it is lifted to
   * its 12 kW maximum (+7.8) and b has the rest, 4.2 + 7.8 = 12 kW (36 kWh by its departure: behind for now).
   * b's slack falls by 1 - 12/15 = 0.2 s per s: it reaches the 60 s guard after 1140 / 0.2 = 5700 s, before a
   * is full (20/12 h = 6000 s). Then b has 40 - 12 x 5700/3600 = 21 kWh left in 5100 s: its required rate is
   * 21 x 3600 / 5100 = 252/17 = 14.82 kW, and a (1 kWh left, slack 1200 s) has the rest, 24 - 252/17 = 156/17.
   */
  const slackRunsOut = async () => {
    const s = station(24, 60_000);
    const a = (await s.start(leaving("a", 20, 2, { maxKw: 12 }))).session;
    const b = (await s.start(leaving("b", 40, 3, { maxKw: 15 }))).session;
    expect(s.get(a.sessionId)).toMatchObject({ allocatedKw: 12, onTrack: true });
    expect(s.get(b.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(12, 9),
      onTrack: false,
      projectedKwh: expect.closeTo(36, 9),
    });
    const before = s.load().version;
    clock.advance(5_690_000);
    expect(s.load().version).toBe(before);
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(12, 9);
    return { s, a, b, before };
  };

  test("a re-share when a car runs out of slack, not before", async () => {
    const { s, a, b, before } = await slackRunsOut();
    // Within one more bound (60 s) of the guard, b is lifted to its required rate (14.82 kW at 5700 s, a
    // little more if lifted later) and is on track; a, with the rest, too.
    clock.advance(80_000);
    expect(s.load().version).toBeGreaterThan(before);
    const lifted = s.get(b.sessionId);
    expect(lifted).toMatchObject({ onTrack: true, projectedKwh: expect.closeTo(40, 6) });
    expect(lifted.allocatedKw).toBeGreaterThanOrEqual(252 / 17 - 1e-9);
    expect(lifted.allocatedKw).toBeLessThan(15);
    expect(s.get(a.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(24 - lifted.allocatedKw, 9),
      onTrack: true,
    });
  });

  // The timer fires exactly when b's laxity reaches the guard, and rounding leaves it a hair above (60 + 9e-13
  // s): `standing` must count that as out of slack, or b is lifted only one bound later (at 5760 s).
  test("the re-share at the guard itself lifts the car out of slack (one re-share, exact rate)", async () => {
    const { s, a, b, before } = await slackRunsOut();
    clock.advance(20_000);
    expect(s.load().version).toBe(before + 1);
    // To 5 digits: the timer rounds up to the next millisecond (b is lifted < 1 ms after 5700 s).
    expect(s.get(b.sessionId)).toMatchObject({
      allocatedKw: expect.closeTo(252 / 17, 5),
      onTrack: true,
      projectedKwh: expect.closeTo(40, 6),
    });
    expect(s.get(a.sessionId)).toMatchObject({ allocatedKw: expect.closeTo(156 / 17, 5), onTrack: true });
  });

  test("re-shares for crossings are bounded by SUBSTATION_RESHARE_MIN_MS", async () => {
    // As above with a 1100 s bound (so a 1100 s guard): both still have slack (1200 s), 12 kW each, and b's
    // reaches the guard after (1200 - 1100) / 0.2 = 500 s, but the re-share waits for the bound. At 1100 s b
    // has 40 - 12 x 1100/3600 = 36.33 kWh left in 9700 s: lifted to 130800 / 9700 = 13.48 kW.
    const s = station(24, 1_100_000);
    await s.start(leaving("a", 20, 2, { maxKw: 12 }));
    const b = (await s.start(leaving("b", 40, 3, { maxKw: 15 }))).session;
    const before = s.load().version;
    clock.advance(1_099_000);
    expect(s.load().version).toBe(before);
    clock.advance(2000);
    expect(s.load().version).toBe(before + 1);
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(130_800 / 9700, 6);
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
    // a's slack falls by 1 - 8/22 = 14/22 s per s: it reaches the 1 s guard after 326.27 x 22/14 = 512.7 s,
    // having 1.14 kWh. Out of slack, it is lifted to its required rate, 18.86 kWh in 3087.3 s = 21.99 kW
    // (22 x 3086.3 / 3087.3), and on track again; b has the rest.
    const lifted = updates.next();
    clock.advance(600_000);
    expect((await lifted).value).toMatchObject({
      allocatedKw: expect.closeTo(21.995, 2), // 21.993 at 512.7 s; 21.997 if lifted one 1 s bound later
      projectedKwh: expect.closeTo(20, 6),
      onTrack: true,
    });
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(30 - 21.995, 2);
    stop.abort();
    await updates.return(undefined);
  });
});
