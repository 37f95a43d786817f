/**
 * A hostile charger flooding the gateway: NotifyEVChargingNeeds with a changing energy or maximum on every
 * message, or MeterValues as fast as it can. Its substation sees one call at a time per transaction (the
 * newest value last), and the draw samples kept for reclaim stay bounded however many readings come.
 */
import { describe, expect, test } from "bun:test";
import type { Logger } from "@evgrid/kit";
import { eventually } from "@evgrid/testing";
import { Caps } from "../src/caps.ts";
import { ChargerTable } from "../src/chargers.ts";
import type { Grid } from "../src/grid.ts";
import { Meters } from "../src/meters.ts";
import type { GatewayMetrics } from "../src/metrics.ts";
import type { Tx } from "../src/model.ts";
import type { Power } from "../src/power.ts";
import type { Registry } from "../src/registry.ts";
import { newTx } from "../src/transactions.ts";

/** A substation that answers each call a macrotask later, counting the calls in flight at once. */
class CountingSubstation {
  readonly maxInFlight: Record<string, number> = {};
  readonly inFlight: Record<string, number> = {};
  readonly last: Record<string, unknown> = {};
  readonly calls: Record<string, number> = {};

  /** Calls whose answer is lost after they were taken (a timeout): they throw an untyped error. */
  readonly lost = new Set<string>();

  private procedure(name: string) {
    return {
      mutate: async (input: unknown) => {
        this.inFlight[name] = (this.inFlight[name] ?? 0) + 1;
        this.calls[name] = (this.calls[name] ?? 0) + 1;
        this.maxInFlight[name] = Math.max(this.maxInFlight[name] ?? 0, this.inFlight[name]);
        await new Promise((resolve) => setImmediate(resolve));
        this.last[name] = input;
        this.inFlight[name] -= 1;
        if (this.lost.has(name)) throw new Error("the call timed out");
        return { startedAt: new Date(0).toISOString() };
      },
    };
  }

  readonly client = {
    setSessionNeeds: this.procedure("setSessionNeeds"),
    setSessionCap: this.procedure("setSessionCap"),
    reportMeter: this.procedure("reportMeter"),
  };
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const metrics = {
  meterImplausible: () => {},
  meterReport: () => {},
  registryWriteFailed: () => {},
} as unknown as GatewayMetrics;
const window = { windowMs: 60_000, belowRatio: 0.8, marginKw: 1 };
const maxSamples = 600;
/** The gateway's default OCPP_NEEDS_MIN_GAP_MS. */
const NEEDS_GAP_MS = 1000;

function setUp() {
  const substation = new CountingSubstation();
  const grid = { site: () => substation.client } as unknown as Grid;
  const table = new ChargerTable();
  const cp = { chargePointId: "cp-flood", substationId: "substation-1", maxKw: 11 };
  const ch = table.ensure(cp as Parameters<ChargerTable["ensure"]>[0]);
  const tx: Tx = newTx(ch, 1, "tx-1", "ocpp:ev", 0, Date.now() - 3_600_000);
  tx.phase = {
    state: "charging",
    sessionId: "s-1",
    limits: { minKw: 1.4, maxKw: 11, capKw: null, weight: 1 },
    admittedKw: 11,
    levelVersion: -1,
    chargePointKw: null,
    reclaimKw: null,
    energyKwh: null,
  };
  table.addTx(ch, tx, false);
  const caps = new Caps(
    grid,
    quiet,
    () => true,
    () => {},
    () => null,
  );
  const power = {
    powerOf: () => 11,
    allowance: () => ({ peakW: 11_000, allowedWh: 0, openedAtMs: 0 }),
    ignoresLimits: () => false,
  } as unknown as Power;
  const registry = { setMeterStart: () => {} } as unknown as Registry;
  const settings = {
    reclaim: window,
    slackWh: 1000,
    silentMs: 300_000,
    maxSamples,
    needsMinGapMs: NEEDS_GAP_MS,
    overdraw: { windowMs: 30_000, marginRatio: 0.1, marginKw: 1 },
  };
  /** The time bounds the gateway set: a timed session its car's needs made energy-based. */
  const bounded: number[] = [];
  const bound = (_tx: Tx, startedAtMs: number) => bounded.push(startedAtMs);
  const meters = new Meters(table, grid, registry, power, caps, settings, metrics, quiet, bound);
  return { substation, tx, meters, bounded, [Symbol.dispose]: () => meters.close() };
}

describe("a charger flooding the gateway", () => {
  test("200 NotifyEVChargingNeeds, each changing: one setSessionNeeds / setSessionCap in flight, the last wins", async () => {
    using s = setUp();
    for (let i = 1; i <= 200; i++) {
      expect(s.meters.needs(s.tx, { connectorId: 1, energyKwh: i, maxKw: 4 + i / 100 })).toBe(true);
    }
    await eventually(() => {
      expect(s.substation.last.setSessionNeeds).toMatchObject({ sessionId: "s-1", energyKwh: 200 });
      expect(s.substation.last.setSessionCap).toMatchObject({ sessionId: "s-1", capKw: 6 });
      expect(s.substation.inFlight).toEqual({ setSessionNeeds: 0, setSessionCap: 0 });
    });
    expect(s.substation.maxInFlight).toEqual({ setSessionNeeds: 1, setSessionCap: 1 });
    // The first, and the newest of those that came while it ran.
    expect(s.substation.calls).toEqual({ setSessionNeeds: 2, setSessionCap: 2 });
  });

  test("NotifyEVChargingNeeds as fast as the substation answers them: passed on once per OCPP_NEEDS_MIN_GAP_MS, the last wins", async () => {
    using s = setUp();
    const startedMs = Date.now();
    for (let i = 1; i <= 50; i++) {
      expect(s.meters.needs(s.tx, { connectorId: 1, energyKwh: i, maxKw: 4 + i / 100 })).toBe(true);
      // Each message comes once the substation has answered every call so far: nothing to collapse.
      await eventually(() =>
        expect(s.substation.inFlight).toMatchObject({ setSessionNeeds: 0, setSessionCap: 0 }),
      );
    }
    const floodMs = Date.now() - startedMs;
    await eventually(() => {
      expect(s.substation.last.setSessionNeeds).toMatchObject({ sessionId: "s-1", energyKwh: 50 });
      expect(s.substation.last.setSessionCap).toMatchObject({ sessionId: "s-1", capKw: 4.5 });
    });
    // The first at once, then one per interval the flood lasted, and the newest after it: not one per message.
    const most = 2 + Math.floor(floodMs / NEEDS_GAP_MS);
    expect(s.substation.calls.setSessionNeeds).toBeLessThanOrEqual(most);
    expect(s.substation.calls.setSessionCap).toBeLessThanOrEqual(most);
  });

  test("a timed session's needs whose answer is lost (they may have been taken) still get the time bound", async () => {
    using s = setUp();
    s.substation.lost.add("setSessionNeeds");
    expect(s.meters.needs(s.tx, { connectorId: 1, energyKwh: 30 })).toBe(true);
    await eventually(() => expect(s.bounded).toEqual([s.tx.startedAtMs]));
  });

  test("2,000 MeterValues: the samples stay bounded and the substation ends at the last reading", async () => {
    using s = setUp();
    for (let i = 1; i <= 2000; i++) s.meters.read(s.tx, { energyWh: i, powerW: 3000 + (i % 7) * 100 });
    expect(s.tx.samples.length).toBeGreaterThan(0);
    expect(s.tx.samples.length).toBeLessThanOrEqual(maxSamples + 2);
    // The highest draw of the flood is kept: reclaim never takes more than its readings would.
    expect(Math.max(...s.tx.samples.map((x) => x.drawKw))).toBe(3.6);
    // What a stop waits for before ending the session: the last reading reported.
    await s.meters.reportWaiting(s.tx);
    expect(s.substation.last.reportMeter).toEqual({ sessionId: "s-1", energyKwh: 2 });
    await eventually(() => expect(s.substation.inFlight.reportMeter).toBe(0));
    expect(s.substation.maxInFlight.reportMeter).toBe(1);
  });
});
