/** What the OCPP gateway and session watchers read from a station: levels, ends, caps and meters. */
import { describe, expect, test } from "bun:test";
import type { PowerEvent } from "@evgrid/contract";
import { shareAtLevel } from "@evgrid/policy";
import { Station } from "../src/station.ts";
import { open, req } from "./fixtures.ts";

const station = (capacityKw: number) => {
  const s = new Station({ id: "s1", capacityKw });
  open.push(s);
  return s;
};

/**
 * Reads events from a watch until `count` are in (or it ends). No race against a timer: a next() left
 * behind by one would swallow the event it was owed on a slow machine. The test's timeout guards a hang.
 */
async function take(events: AsyncGenerator<PowerEvent>, count: number): Promise<PowerEvent[]> {
  const out: PowerEvent[] = [];
  while (out.length < count) {
    const next = await events.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe("watchPower", () => {
  test("starts with the current level, then the level of each turn's re-shares and every end", async () => {
    const s = station(33);
    const ac = new AbortController();
    const events = s.watchPower(ac.signal);
    expect(await take(events, 1)).toEqual([
      expect.objectContaining({ type: "level", substationId: "s1", levelKw: null }),
    ]);
    // Three admissions in one turn: one level event, the last one.
    const [a] = await Promise.all([
      s.start(req({ vehicleId: "a", maxKw: 22, minKw: 1 })),
      s.start(req({ vehicleId: "b", maxKw: 22, minKw: 1 })),
      s.start(req({ vehicleId: "c", maxKw: 22, minKw: 1 })),
    ]);
    const [level] = await take(events, 1);
    expect(level).toMatchObject({ type: "level", levelKw: 11 });
    // Each session's power follows from the level alone (a's answer was its power when it was admitted).
    expect(shareAtLevel({ minKw: 1, maxKw: 22 }, level?.type === "level" ? level.levelKw : null)).toBe(
      s.get(a?.session.sessionId as string).allocatedKw,
    );
    s.stop(a?.session.sessionId as string, undefined, "charger_offline");
    const after = await take(events, 2);
    expect(after[0]).toMatchObject({
      type: "ended",
      sessionId: a?.session.sessionId,
      endReason: "charger_offline",
    });
    expect(after[1]).toMatchObject({ type: "level", levelKw: 16.5 });
    ac.abort();
    expect((await events.next()).done).toBe(true);
  });
});

describe("caps (reclaim) and meters", () => {
  test("a cap gives the power a vehicle does not draw to the others, and lifting it gives it back", async () => {
    const s = station(22);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, minKw: 1 }))).session;
    const b = (await s.start(req({ vehicleId: "b", maxKw: 22, minKw: 1 }))).session;
    expect(s.get(a.sessionId).allocatedKw).toBe(11);
    const capped = s.setCap(a.sessionId, 3);
    expect(capped).toMatchObject({ capKw: 3, maxKw: 22, allocatedKw: 3 });
    expect(s.get(b.sessionId).allocatedKw).toBe(19);
    expect(s.setCap(a.sessionId, null)).toMatchObject({ capKw: null, allocatedKw: 11 });
    expect(s.get(b.sessionId).allocatedKw).toBe(11);
    // Never below the minimum nor above the maximum.
    expect(s.setCap(a.sessionId, 0.5)).toMatchObject({ capKw: 1 });
    expect(s.setCap(a.sessionId, 50)).toMatchObject({ capKw: null, allocatedKw: 11 });
  });

  test("a car that can take less than its minimum draws only that, the rest shared; admission keeps its room", async () => {
    const s = station(10);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 11, minKw: 4.2 }))).session;
    const b = (await s.start(req({ vehicleId: "b", maxKw: 11, minKw: 4.2 }))).session;
    expect(s.setCap(a.sessionId, 1, false, 1)).toMatchObject({ minKw: 4.2, capKw: 1, allocatedKw: 1 });
    // What a cannot take goes to b above its minimum: 10 - 1.
    expect(s.get(b.sessionId).allocatedKw).toBeCloseTo(9, 9);
    // Its room stays promised: a newcomer's 4.2 kW does not fit beside 4.2 + 4.2, as before.
    expect(s.load().committedMinKw).toBeCloseTo(8.4, 9);
    await expect(s.start(req({ vehicleId: "c", maxKw: 11, minKw: 4.2 }))).rejects.toMatchObject({
      reason: "INSUFFICIENT_CAPACITY",
    });
    // The car can take more again: its minimum is back, in the room kept for it.
    expect(s.setCap(a.sessionId, null, false, null).allocatedKw).toBeCloseTo(5, 9);
    expect(s.load().committedMinKw).toBeCloseTo(8.4, 9);
    // Its end gives the room back.
    s.stop(a.sessionId);
    expect(s.load().committedMinKw).toBeCloseTo(4.2, 9);
  });

  test("a pinned session (its charger takes no limits) counts at its maximum, and the others share the rest", async () => {
    const s = station(40);
    const ac = new AbortController();
    const events = s.watchPower(ac.signal);
    expect(await take(events, 1)).toEqual([expect.objectContaining({ effectiveCapacityKw: 40 })]);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, minKw: 4 }))).session;
    const b = (await s.start(req({ vehicleId: "b", maxKw: 22, minKw: 4 }))).session;
    expect(s.get(b.sessionId).allocatedKw).toBe(20);
    expect(s.setCap(a.sessionId, null, true)).toMatchObject({ allocatedKw: 22, minKw: 4 });
    expect(s.get(b.sessionId).allocatedKw).toBe(18);
    // A third vehicle's minimum must fit beside the pinned maximum: 22 + 4 + 4 <= 40.
    await s.start(req({ vehicleId: "c", maxKw: 22, minKw: 4 }));
    expect(s.get(a.sessionId).allocatedKw).toBe(22);
    // Unpinned: an ordinary share again.
    expect(s.setCap(a.sessionId, null, false).allocatedKw).toBeCloseTo(40 / 3, 9);
    // A pin that does not fit beside the others' minimums is refused, and changes nothing.
    s.setLimit(29);
    expect(() => s.setCap(a.sessionId, null, true)).toThrow(/cannot be held/);
    expect(s.get(a.sessionId).allocatedKw).toBeCloseTo(29 / 3, 9);
    // Every level carries the effective capacity the chargers' limits must fit in.
    let last: PowerEvent | undefined;
    while (last?.type !== "level" || last.effectiveCapacityKw !== 29) last = (await take(events, 1))[0];
    ac.abort();
  });

  test("a pin may be above the session's own maximum (what its charger may draw); a cap alone may not", async () => {
    const s = station(30);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 11, minKw: 4 }))).session;
    const b = (await s.start(req({ vehicleId: "b", maxKw: 22, minKw: 4 }))).session;
    expect(s.setCap(a.sessionId, 22, false).allocatedKw).toBe(11);
    expect(s.setCap(a.sessionId, 22, true).allocatedKw).toBe(22);
    expect(s.get(b.sessionId).allocatedKw).toBe(8);
    expect(s.setCap(a.sessionId, null, false).allocatedKw).toBe(11);
  });

  test("moving a session to a capped class keeps the energy it has drawn", async () => {
    let nowMs = 1_000_000;
    const s = new Station({ id: "s1", capacityKw: 22, now: () => nowMs });
    open.push(s);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, minKw: 1, durationS: 3600 }))).session;
    nowMs += 3_600_000 / 2; // half an hour at 22 kW
    expect(s.get(a.sessionId).deliveredKwh).toBeCloseTo(11, 9);
    s.setCap(a.sessionId, 10);
    nowMs += 3_600_000 / 2; // half an hour at 10 kW
    expect(s.get(a.sessionId).deliveredKwh).toBeCloseTo(16, 9);
  });

  test("the meter is the delivered energy, and ends an energy session at its target", async () => {
    let nowMs = 1_000_000;
    const s = new Station({ id: "s1", capacityKw: 50, now: () => nowMs });
    open.push(s);
    const e = (await s.start(req({ vehicleId: "e", maxKw: 11, energyKwh: 20 }))).session;
    // Before a meter reports, delivered is what the allocation integrates to: an estimate, not metered.
    nowMs += 3_600_000 / 2;
    expect(s.get(e.sessionId).deliveredKwh).toBeCloseTo(5.5, 9);
    expect(s.get(e.sessionId).meteredKwh).toBeUndefined();
    expect(s.meter(e.sessionId, 5)).toMatchObject({ status: "active", deliveredKwh: 5, meteredKwh: 5 });
    // A meter never runs backwards.
    expect(s.meter(e.sessionId, 4).deliveredKwh).toBe(5);
    expect(s.meter(e.sessionId, 20)).toMatchObject({
      status: "ended",
      endReason: "energy_delivered",
      deliveredKwh: 20,
    });
    expect(s.get(e.sessionId).meteredKwh).toBeUndefined(); // active sessions only
    expect(() => s.meter(e.sessionId, 21)).toThrow(/no session/);
  });
});

describe("watchSession", () => {
  test("its power as it changes, then its end", async () => {
    const s = station(22);
    const a = (await s.start(req({ vehicleId: "a", maxKw: 22, minKw: 1 }))).session;
    const ac = new AbortController();
    const updates = s.watchSession(a.sessionId, undefined, ac.signal, 60_000);
    expect((await updates.next()).value).toMatchObject({ status: "active", allocatedKw: 22 });
    const b = (await s.start(req({ vehicleId: "b", maxKw: 22, minKw: 1 }))).session;
    expect((await updates.next()).value).toMatchObject({ status: "active", allocatedKw: 11 });
    s.stop(b.sessionId);
    expect((await updates.next()).value).toMatchObject({ allocatedKw: 22 });
    s.stop(a.sessionId);
    expect((await updates.next()).value).toMatchObject({
      status: "ended",
      endReason: "stopped",
      allocatedKw: 0,
    });
    expect((await updates.next()).done).toBe(true);
  });

  test("someone else's session is not found", async () => {
    const s = station(22);
    const a = (await s.start(req({ vehicleId: "a", owner: "key:0123456789abcdef" }))).session;
    await expect(s.watchSession(a.sessionId, "key:fedcba9876543210", undefined).next()).rejects.toThrow(
      /no session/,
    );
  });
});
