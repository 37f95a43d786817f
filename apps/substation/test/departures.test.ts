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
    const s = station(30);
    const early = (await s.start(leaving("early", 20, 1))).session;
    const late = (await s.start(leaving("late", 20, 8))).session;
    expect(s.get(early.sessionId)).toMatchObject({ allocatedKw: 20, onTrack: true, projectedKwh: 20 });
    expect(s.get(late.sessionId)).toMatchObject({ allocatedKw: 10, onTrack: true, projectedKwh: 20 });
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
    expect(share(early)).toBeCloseTo(20, 9);
    expect(share(late)).toBeCloseTo(10, 9);
  });

  test("time changes the order: a re-share at the laxity crossing, not before", async () => {
    // a: 20 kWh in 4 h at up to 10 kW (laxity 2 h); b: 60 kWh in 5.5 h at up to 20 kW (laxity 2.5 h). On
    // 20 kW: floors 5 and 10.9 kW, the rest shared: 9.09 and 10.91 kW. b's laxity falls 0.36 s per s faster,
    // so it overtakes a after 1800 / 0.3636 = 4950 s; nothing else happens before.
    const s = station(20, 60_000);
    const a = (await s.start(leaving("a", 20, 4, { maxKw: 10 }))).session;
    const b = (await s.start(leaving("b", 60, 5.5, { maxKw: 20 }))).session;
    expect(s.get(a.sessionId).allocatedKw).toBeCloseTo(100 / 11, 9);
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(120 / 11, 9);
    const before = s.load().version;
    clock.advance(4940_000);
    expect(s.load().version).toBe(before);
    clock.advance(20_000);
    expect(s.load().version).toBe(before + 1);
  });

  test("re-shares for crossings are bounded by SUBSTATION_RESHARE_MIN_MS", async () => {
    const s = station(20, 6_000_000); // longer than the crossing at 4950 s
    await s.start(leaving("a", 20, 4, { maxKw: 10 }));
    await s.start(leaving("b", 60, 5.5, { maxKw: 20 }));
    const before = s.load().version;
    clock.advance(5_999_000);
    expect(s.load().version).toBe(before);
    clock.advance(2000);
    expect(s.load().version).toBe(before + 1);
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
    await first.start(leaving("late", 20, 8));
    first.close();
    await nextTurn();
    const again = boot();
    stations.push(again);
    expect(again.get(early.sessionId)).toMatchObject({
      allocatedKw: 20,
      departAt: early.departAt,
      onTrack: true,
    });
    clock.advance(HOUR_MS);
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
    await s.start(dispatchRequestSchema.parse({ vehicleId: "n", maxKw: 22, durationS: 8 * 3600 }));
    expect(s.get(walkIn.sessionId).allocatedKw).toBe(15);
    const departAt = new Date(clock.now() + HOUR_MS).toISOString();
    s.setNeeds({ sessionId: walkIn.sessionId, energyKwh: 20, departAt });
    expect(s.get(walkIn.sessionId)).toMatchObject({
      allocatedKw: 20,
      durationS: null,
      energyKwh: 20,
      onTrack: true,
    });
    expect(journal.find(walkIn.sessionId)).toMatchObject({
      energyKwh: 20,
      durationS: null,
      departAtMs: Date.parse(departAt),
    });
  });

  test("a watcher sees projectedKwh and onTrack with each change of power", async () => {
    const s = station(30);
    const a = (await s.start(leaving("a", 20, 1))).session;
    const updates = s.watchSession(a.sessionId, undefined, undefined);
    expect((await updates.next()).value).toMatchObject({ allocatedKw: 22, projectedKwh: 20, onTrack: true });
    const next = updates.next();
    await s.start(leaving("b", 25, 1));
    // 30 kW for 45 kWh in an hour: the need order serves a (20 kW) first, b has the rest and is short.
    expect((await next).value).toMatchObject({ allocatedKw: 20, projectedKwh: 20, onTrack: true });
    expect(s.list("active", 10).find((x) => x.vehicleId === "b")).toMatchObject({
      allocatedKw: 10,
      onTrack: false,
    });
    await updates.return(undefined);
  });
});
