import { describe, expect, test } from "bun:test";
import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "../src/metrics.ts";
import type { Tx } from "../src/model.ts";
import { type DrawReading, Overdraws } from "../src/overdraw.ts";

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * A connector under an 8 kW limit (9.8 kW allowed with the default margins), a 30 s window for power, a
 * register resolution of `slackWh`; `caught` lists the times (s) its charger was caught. The books are
 * modelled as the gateway keeps them: the most the connector was counted at since the last reading, and the
 * energy allowed so far (each limit for as long as it was in force).
 */
function setUp(slackWh = 1000, windowMs = 30_000) {
  const caught: number[] = [];
  let clock = 0;
  let known = false;
  const books = { limitKw: 8 as number | null, peakKw: 8, allowedWh: 0, atS: 0, openedAtS: 0, connection: 1 };
  const accrue = (atS: number) => {
    books.allowedWh += ((books.limitKw ?? 0) * 1000 * (atS - books.atS)) / 3600;
    books.atS = atS;
  };
  const overdraws = new Overdraws(
    { windowMs, marginRatio: 0.1, marginKw: 1, slackWh },
    {
      allowance: (_tx, nowMs) => {
        if (books.limitKw === null) return null;
        accrue(nowMs / 1000);
        const peakW = Math.max(books.peakKw, books.limitKw) * 1000;
        books.peakKw = books.limitKw;
        const { allowedWh, connection } = books;
        return { peakW, allowedWh, openedAtMs: books.openedAtS * 1000, connection };
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
  const newTx = (meterStartWh: number | null = null, atS = 0) =>
    ({
      chargePointId: "cp",
      connectorId: 1,
      transactionId: `t-${atS}`,
      meterStartWh,
      startedAtMs: atS * 1000,
    }) as Tx;
  let tx = newTx();
  const read = (atS: number, r: DrawReading) => {
    clock = atS;
    if (caught.length === 0) overdraws.check(tx, atS * 1000, r);
  };
  /** A limit in force from `atS`. */
  const limit = (atS: number, kw: number) => {
    accrue(atS);
    books.peakKw = Math.max(books.peakKw, books.limitKw ?? 0, kw);
    books.limitKw = kw;
  };
  /** Its transaction ends at `atS` and another starts on the connector: a new slot in the books. */
  const restart = (atS: number, meterStartWh: number | null) => {
    tx = newTx(meterStartWh, atS);
    Object.assign(books, { allowedWh: 0, atS, openedAtS: atS });
  };
  /** Its connector leaves the books and enters them again at `atS`, its transaction going on. */
  const reenter = (atS: number) => Object.assign(books, { allowedWh: 0, atS, openedAtS: atS });
  /** Its charger connects again (its readings after may be ones it queued while offline). */
  const reconnect = () => {
    books.connection += 1;
  };
  return { read, caught, limit, books, restart, reenter, reconnect };
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
    s.limit(10, 22);
    s.limit(20, 8); // raised and lowered again before the next reading: it may still be drawing 22 kW
    s.read(40, { powerKw: 21 });
    s.read(80, { powerKw: 11 });
    expect(s.caught).toEqual([]);
  });

  test("a new transaction on the connector goes on from the count (one reopened every few seconds)", () => {
    // A hostile-charger probe: 11 kW under 8 for ten windows, its transaction ended and reopened every 2.5 s.
    const s = setUp();
    for (let atS = 0; atS <= 30; atS += 0.5) {
      if (atS > 0 && atS % 2.5 === 0) s.restart(atS, null);
      s.read(atS, { powerKw: 11 });
    }
    expect(s.caught).toEqual([30]);
  });

  test("the count another transaction left more than a window ago starts again (a car that left hours before)", () => {
    const s = setUp();
    s.read(0, { powerKw: 11 }); // a car still ramping down after a cut, then unplugged
    s.restart(7200, null);
    s.read(7200, { powerKw: 11 });
    expect(s.caught).toEqual([]);
    s.read(7230, { powerKw: 11 });
    expect(s.caught).toEqual([7230]);
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
    expect(s.caught[0]).toBeLessThan(60);
  });

  test("a register read again unchanged between readings, or a power that says less, changes nothing", () => {
    const repeats = setUp(10);
    const liar = setUp(10);
    for (let i = 0; i <= 80; i++) {
      const at = i * 1.05;
      const wh = register(11, i % 2 === 0 ? at : at - 1.05); // every other reading repeats the one before
      repeats.read(at, { energyWh: wh });
      liar.read(at, { energyWh: register(11, at), powerKw: 7 });
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
    // Now 11 kW: 0.33 Wh a second over the allowance, past 10 Wh in about 30 s once the last reading's
    // unused allowance (usable for OCPP_OVERDRAW_S, 30 s) is spent.
    for (let i = 1; i <= 40; i++) s.read(3600 + i * 5, { energyWh: base + register(11, i * 5) });
    expect(s.caught).toHaveLength(1);
    expect(s.caught[0]).toBeLessThanOrEqual(3600 + 75);
  });

  test("a limit raised for a second does not excuse the whole interval (found by a probe)", () => {
    const s = setUp(20);
    s.read(0, { energyWh: 0 });
    s.limit(10, 22);
    s.limit(11, 8);
    s.read(60, { energyWh: register(22, 60) }); // 22 kW for a minute: allowed 8 kW but for one second
    expect(s.caught).toEqual([60]);
  });

  test("readings queued while offline, sent in a burst, are paid for by the time they cover (found by a probe)", () => {
    const s = setUp(20);
    for (let i = 0; i <= 10; i++) s.read(i * 60, { energyWh: register(8, i * 60) });
    // Offline from 600 s to 1,200 s, sampling every 60 s; back, it sends the 10 readings within a second.
    s.reconnect();
    for (let i = 1; i <= 10; i++) s.read(1200 + i * 0.05, { energyWh: register(8, 600 + i * 60) });
    for (let i = 1; i <= 5; i++) s.read(1200 + i * 60, { energyWh: register(8, 1200 + i * 60) });
    expect(s.caught).toEqual([]);
    // Each queued reading sent twice (a repeat is a reading below the allowance): the burst's credit holds.
    const twice = setUp(20);
    for (let i = 0; i <= 10; i++) twice.read(i * 60, { energyWh: register(8, i * 60) });
    twice.reconnect();
    for (let i = 1; i <= 20; i++)
      twice.read(1200 + i * 0.05, { energyWh: register(8, 600 + Math.ceil(i / 2) * 60) });
    expect(twice.caught).toEqual([]);
  });

  test("what a reading after a reconnect left unused pays for 30 s at most, however long OCPP_OVERDRAW_S", () => {
    // A review: with the power check set aside (an hour), 20 idle minutes paid for 15 minutes over the limit.
    const s = setUp(20, 3_600_000);
    s.read(0, { energyWh: 0 });
    s.reconnect();
    s.read(1200, { energyWh: 0 }); // back after 20 idle minutes offline: 3.3 kWh allowed and unused
    for (let t = 1210; t <= 1300; t += 10) s.read(t, { energyWh: register(22, t - 1200) });
    expect(s.caught).toHaveLength(1);
    expect(s.caught[0]).toBeLessThanOrEqual(1260);
  });

  test("power and energy in separate readings, a limit lowered between energy readings: each limit for its time", () => {
    // Found by a probe: every power reading moved the mark, and the energy was held to the last limit alone.
    const s = setUp(20);
    s.limit(0, 22);
    s.read(0, { energyWh: 0 });
    for (let t = 60; t < 900; t += 60) {
      if (t === 600) s.limit(600, 8);
      s.read(t, { powerKw: t < 600 ? 22 : 8 });
    }
    s.read(900, { energyWh: register(22, 600) + register(8, 300) });
    expect(s.caught).toEqual([]);
  });

  test("a new transaction on the connector goes on from its excess, and is judged from its meter's start", () => {
    const s = setUp(20);
    s.read(0, { energyWh: 0 });
    s.read(10, { energyWh: register(11, 10) + 0 }); // ~3.4 Wh over 10 s allowed ~27.2 Wh: nothing yet
    s.read(60, { energyWh: register(14, 60) }); // 233 Wh against 163 allowed: 70 over, past 20
    expect(s.caught).toEqual([60]);
    const fresh = setUp(20);
    fresh.read(0, { energyWh: 0 });
    fresh.read(40, { energyWh: register(10.5, 40) }); // 116.7 Wh against 108.9: 7.8 over
    fresh.restart(40, register(10.5, 40)); // stopped and started again, its register where it was
    // Its first reading, 40 s on, judged from the start: another 7.8 over, and the first 7.8 still count.
    fresh.read(80, { energyWh: register(10.5, 80) });
    fresh.read(120, { energyWh: register(10.5, 120) });
    expect(fresh.caught).toEqual([120]);
  });

  test("its connector entering the books again mid-transaction starts the allowance again, not a false excess", () => {
    const s = setUp(20);
    for (let t = 0; t <= 300; t += 60) s.read(t, { energyWh: register(8, t) }); // 667 Wh allowed so far
    s.reenter(310);
    s.read(360, { energyWh: register(8, 360) }); // a new start: 50 s allowed since, not 360 s
    for (let t = 420; t <= 900; t += 60) s.read(t, { energyWh: register(8, t) });
    expect(s.caught).toEqual([]);
  });

  test("a charger silent for a while that then reports energy ahead of drawing it is caught", () => {
    // A review: 20 idle minutes, one reading, then 3 kWh reported within a second (each step within a meter's
    // slack), then drawing 22 kW while repeating that register: the unused allowance paid for minutes over.
    const s = setUp(1000);
    s.read(0, { energyWh: 0 });
    s.read(1200, { energyWh: 0 });
    for (let i = 1; i <= 3; i++) s.read(1200 + i * 0.05, { energyWh: i * 1000 });
    expect(s.caught).toHaveLength(1);
  });

  test("a clock stepped back starts the check again, judging nothing across the step", () => {
    const s = setUp(20);
    for (let t = 0; t <= 600; t += 60) s.read(t, { energyWh: register(8, t) });
    // The wall clock goes back ten minutes; the books' allowance does not.
    s.read(10, { energyWh: register(8, 660) });
    expect(s.caught).toEqual([]);
  });
});
