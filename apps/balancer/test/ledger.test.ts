import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { OwnerLedger } from "../src/ledger.ts";

const session = (over: Partial<Session>): Session => ({
  sessionId: "substation-1.0",
  substationId: "substation-1",
  vehicleId: "ev",
  minKw: 4.2,
  maxKw: 11,
  capKw: null,
  allocatedKw: 11,
  status: "active",
  startedAt: new Date(0).toISOString(),
  durationS: 60,
  priority: "standard",
  energyKwh: null,
  deliveredKwh: 0,
  expectedEndAt: new Date(60_000).toISOString(),
  endedAt: null,
  endReason: null,
  idempotencyKey: null,
  owner: "addr:203.0.113.1",
  ...over,
});

describe("owner ledger", () => {
  test("counts each caller's sessions and promised minimums, each apart", () => {
    const ledger = new OwnerLedger(() => 0);
    ledger.add(session({ sessionId: "s.1" }));
    ledger.add(session({ sessionId: "s.2", minKw: 11 }));
    ledger.add(session({ sessionId: "s.3", owner: "key:0123456789abcdef" }));
    expect(ledger.usage("addr:203.0.113.1")).toEqual({
      activeSessions: 2,
      committedMinKw: expect.closeTo(15.2, 9),
    });
    expect(ledger.usage("key:0123456789abcdef")).toEqual({ activeSessions: 1, committedMinKw: 4.2 });
    ledger.remove("s.2");
    expect(ledger.usage("addr:203.0.113.1")).toEqual({
      activeSessions: 1,
      committedMinKw: expect.closeTo(4.2, 9),
    });
  });

  test("a session is counted until it must have ended: its time, or its energy at no more than its minimum", () => {
    let nowMs = 0;
    const ledger = new OwnerLedger(() => nowMs);
    ledger.add(session({ sessionId: "timed", durationS: 60 }));
    // 10 kWh at 4.2 kW takes at most 2.38 h, however soon the estimate says.
    ledger.add(
      session({
        sessionId: "energy",
        durationS: null,
        energyKwh: 10,
        expectedEndAt: new Date(3_272_727).toISOString(),
      }),
    );
    nowMs = 60_000;
    expect(ledger.usage("addr:203.0.113.1").activeSessions).toBe(1);
    nowMs = 3_600_000;
    expect(ledger.usage("addr:203.0.113.1").activeSessions).toBe(1);
    nowMs = Math.ceil((10 / 4.2) * 3_600_000);
    expect(ledger.usage("addr:203.0.113.1").activeSessions).toBe(0);
  });

  test("in-flight requests count until they are answered, so a burst cannot slip past a quota", () => {
    const ledger = new OwnerLedger(() => 0);
    const releases = [ledger.reserve("addr:x", 4.2), ledger.reserve("addr:x", 4.2)];
    expect(ledger.usage("addr:x")).toEqual({ activeSessions: 2, committedMinKw: 8.4 });
    for (const release of releases) release();
    expect(ledger.usage("addr:x")).toEqual({ activeSessions: 0, committedMinKw: 0 });
  });

  test("the sessions worth re-checking are those expected to end first, and Retry-After points at the first", () => {
    const ledger = new OwnerLedger(() => 0);
    for (const [id, endS] of [
      ["late", 900],
      ["soon", 30],
      ["mid", 300],
    ] as const) {
      ledger.add(
        session({ sessionId: id, durationS: endS, expectedEndAt: new Date(endS * 1000).toISOString() }),
      );
    }
    expect(ledger.uncertain("addr:203.0.113.1", 2)).toEqual(["soon", "mid"]);
    expect(ledger.retryAfterS("addr:203.0.113.1")).toBe(30);
  });
});
