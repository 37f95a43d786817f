import { describe, expect, test } from "bun:test";
import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "../src/metrics.ts";
import type { Tx } from "../src/model.ts";
import { type DrawReading, Overdraws } from "../src/overdraw.ts";

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * A connector under `limitKw` (9.8 kW allowed at 8 kW with the default margins), a 30 s window for power, a
 * register resolution of `slackWh`; `caught` lists the times (s) its charger was caught.
 */
function setUp(slackWh = 1000) {
  const caught: number[] = [];
  let clock = 0;
  let known = false;
  /** What the books count it at now, and the most they counted it at since the last reading. */
  const books = { limitKw: 8 as number | null, peakKw: 0 };
  const overdraws = new Overdraws(
    { windowMs: 30_000, marginRatio: 0.1, marginKw: 1, slackWh },
    {
      takePeakKw: () => {
        if (books.limitKw === null) return null;
        const peak = Math.max(books.peakKw, books.limitKw);
        books.peakKw = books.limitKw;
        return peak;
      },
      ignoresLimits: () => {
        caught.push(clock);
        const first = !known;
        known = true;
        return first;
      },
    },
    { overdraw: () => {} } as unknown as GatewayMetrics,
    quiet,
  );
  const tx = {} as Tx;
  const read = (atS: number, r: DrawReading) => {
    clock = atS;
    overdraws.check(tx, atS * 1000, r);
  };
  /** A limit in force from now: the books have counted it at the higher of the two since the last reading. */
  const limit = (kw: number) => {
    books.peakKw = Math.max(books.peakKw, books.limitKw ?? 0, kw);
    books.limitKw = kw;
  };
  return { read, caught, limit, books };
}

describe("a charger's power against its limit", () => {
  test("over for the whole window, two readings at least: caught once", () => {
    const s = setUp();
    s.read(0, { powerKw: 11 });
    s.read(29.9, { powerKw: 11 });
    expect(s.caught).toEqual([]);
    s.read(30, { powerKw: 11 });
    expect(s.caught).toEqual([30]);
  });

  test("one reading within the limit starts the count again (a car ramping down)", () => {
    const s = setUp();
    s.read(0, { powerKw: 11 });
    s.read(10, { powerKw: 9.8 }); // within 8 kW + 10 % + 1 kW
    s.read(31, { powerKw: 11 });
    s.read(60, { powerKw: 11 });
    expect(s.caught).toEqual([]);
    s.read(61, { powerKw: 11 });
    expect(s.caught).toEqual([61]);
  });

  test("a reading is held to the highest limit since the one before (a limit lowered in between)", () => {
    const s = setUp();
    s.read(0, { powerKw: 11 }); // over 8 kW: the count starts
    s.limit(22);
    s.limit(8); // raised and lowered again before the next reading: it may still be drawing 22 kW
    s.read(40, { powerKw: 21 });
    s.read(80, { powerKw: 11 });
    expect(s.caught).toEqual([]);
  });

  test("a connector not in the books is not checked", () => {
    const s = setUp();
    s.books.limitKw = null;
    s.read(0, { powerKw: 11, energyWh: 0 });
    s.read(100, { powerKw: 11, energyWh: 1_000_000 });
    expect(s.caught).toEqual([]);
  });
});

describe("a charger's energy register against its limits", () => {
  /** A register of `stepWh` resolution, `kw` drawn since time 0. */
  const register = (kw: number, atS: number, stepWh = 1) => Math.floor((kw * atS) / 3.6 / stepWh) * stepWh;

  test("readings 0.9 s apart (none a second apart) drawing 11 kW under 8 kW: caught once past the slack", () => {
    const s = setUp(10);
    // 0.3 Wh over the allowance per reading: past 10 Wh after about 34 readings.
    for (let i = 0; i <= 60 && s.caught.length === 0; i++)
      s.read(i * 0.9, { energyWh: register(11, i * 0.9) });
    expect(s.caught).toHaveLength(1);
    expect(s.caught[0]).toBeGreaterThan(25);
    expect(s.caught[0]).toBeLessThan(40);
  });

  test("a register read again unchanged between readings, or a power that says less, changes nothing", () => {
    const repeats = setUp(10);
    const liar = setUp(10);
    for (let i = 0; i <= 80; i++) {
      const at = i * 1.05;
      const wh = register(11, i % 2 === 0 ? at : at - 1.05); // every other reading repeats the one before
      if (repeats.caught.length === 0) repeats.read(at, { energyWh: wh });
      if (liar.caught.length === 0) liar.read(at, { energyWh: register(11, at), powerKw: 7 });
    }
    expect(repeats.caught).toHaveLength(1);
    expect(liar.caught).toHaveLength(1);
  });

  test("an honest charger at its limit with a coarse register (0.1 kWh, read every 35 s) is never caught", () => {
    const s = setUp(100);
    for (let i = 0; i <= 3000; i++) s.read(i * 35, { energyWh: register(8, i * 35, 100) });
    expect(s.caught).toEqual([]);
  });

  test("time below its limit is not saved up: over the limit after an hour at 1 kW is caught as soon as fresh", () => {
    const s = setUp(10);
    for (let i = 0; i <= 360; i++) s.read(i * 10, { energyWh: register(1, i * 10) });
    const base = register(1, 3600);
    // Now 11 kW: 0.33 Wh a second over the allowance, past 10 Wh in about 30 s.
    for (let i = 1; i <= 10 && s.caught.length === 0; i++)
      s.read(3600 + i * 5, { energyWh: base + register(11, i * 5) });
    expect(s.caught).toHaveLength(1);
    expect(s.caught[0]).toBeLessThanOrEqual(3600 + 40);
  });
});
