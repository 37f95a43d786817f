import { describe, expect, test } from "bun:test";
import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "../src/metrics.ts";
import type { Tx } from "../src/model.ts";
import { Overdraws } from "../src/overdraw.ts";

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** An 8 kW limit (9.8 kW with the default margins), a 30 s window; `caught` lists when it was caught. */
function setUp(heldKw: number | null = 8) {
  const caught: number[] = [];
  let clock = 0;
  let known = false;
  const books = {
    heldKw: () => heldKw,
    ignoresLimits: () => {
      caught.push(clock);
      const first = !known;
      known = true;
      return first;
    },
  };
  let counted = 0;
  const metrics = { overdraw: () => counted++ } as unknown as GatewayMetrics;
  const overdraws = new Overdraws({ windowMs: 30_000, marginRatio: 0.1, marginKw: 1 }, books, metrics, quiet);
  const tx = {} as Tx;
  const read = (atS: number, drawKw: number) => {
    clock = atS;
    overdraws.check(tx, atS * 1000, drawKw);
  };
  return { read, caught, counted: () => counted };
}

describe("a charger's draw against its limit", () => {
  test("over for the whole window, two readings at least: caught once", () => {
    const s = setUp();
    s.read(0, 11);
    s.read(29.9, 11);
    expect(s.caught).toEqual([]);
    s.read(30, 11);
    expect(s.caught).toEqual([30]);
    // A charger known already is not counted again.
    s.read(31, 11);
    s.read(61, 11);
    expect(s.counted()).toBe(1);
  });

  test("one reading within the limit starts the count again (a car ramping down)", () => {
    const s = setUp();
    s.read(0, 11);
    s.read(10, 9.8); // within 8 kW + 10 % + 1 kW
    s.read(31, 11);
    s.read(60, 11);
    expect(s.caught).toEqual([]);
    s.read(61, 11);
    expect(s.caught).toEqual([61]);
  });

  test("one reading, however high, is not enough; a connector not in the books is not checked", () => {
    const once = setUp();
    once.read(0, 11);
    expect(once.caught).toEqual([]);
    const unbooked = setUp(null);
    unbooked.read(0, 11);
    unbooked.read(100, 11);
    expect(unbooked.caught).toEqual([]);
  });
});
