import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { giveInOrder } from "../src/in-order.ts";

/** The obvious way: sort (by key, then second key, then index), then hand out first to last while power lasts. */
function byHand(
  keys: readonly number[],
  wants: readonly number[],
  spareKw: number,
  seconds = keys.map(() => 0),
) {
  const given = new Array<number>(keys.length).fill(0);
  const order = keys
    .map((_, i) => i)
    .sort(
      (a, b) =>
        (keys[a] as number) - (keys[b] as number) || (seconds[a] as number) - (seconds[b] as number) || a - b,
    );
  for (const i of order) {
    if (spareKw <= 0) break;
    const kw = Math.min(wants[i] as number, spareKw);
    given[i] = kw;
    spareKw -= kw;
  }
  return { given, spareKw };
}

function selected(
  keys: readonly number[],
  wants: readonly number[],
  spareKw: number,
  seconds = keys.map(() => 0),
) {
  const given = new Array<number>(keys.length).fill(0);
  const calls: number[] = [];
  const n = keys.length;
  const left = giveInOrder(
    Int32Array.from(keys, (_, i) => i),
    n,
    { first: Float64Array.from(keys), second: Float64Array.from(seconds) },
    Float64Array.from(wants),
    (i, kw) => {
      calls.push(i);
      given[i] = kw;
    },
    spareKw,
  );
  return { given, spareKw: left, calls };
}

describe("giveInOrder", () => {
  test("first in order first: 10 kW over three that want 6 each goes 6, 4, 0 by key, not by index", () => {
    const { given, spareKw } = selected([3, 1, 2], [6, 6, 6], 10);
    expect(given).toEqual([0, 6, 4]);
    expect(spareKw).toBe(0);
  });

  test("enough for all: each gets what it wants, and the rest is returned", () => {
    const { given, spareKw } = selected([2, 1], [3, 4], 10);
    expect(given).toEqual([3, 4]);
    expect(spareKw).toBeCloseTo(3, 12);
  });

  test("equal keys go by index; one that wants nothing is never given anything", () => {
    const { given, calls } = selected([5, 5, 5, 5], [2, 0, 2, 2], 3);
    expect(given).toEqual([2, 0, 1, 0]);
    expect(calls).not.toContain(1);
  });

  test("equal keys go by the second key, and only then by index", () => {
    const { given } = selected([1, 1, 1, 0], [6, 6, 6, 6], 10, [9, 2, 2, 50]);
    expect(given).toEqual([0, 4, 0, 6]);
  });

  test("the same as sorting and handing out in turn, for any keys, wants and spare power (to rounding)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 40 }),
            fc.integer({ min: 0, max: 3 }),
            fc.double({ min: 0, max: 22, noNaN: true }),
          ),
          { maxLength: 300 },
        ),
        fc.double({ min: 0, max: 5000, noNaN: true }),
        (rows, spareKw) => {
          const keys = rows.map((r) => r[0]);
          const seconds = rows.map((r) => r[1]);
          const wants = rows.map((r) => r[2]);
          const want = byHand(keys, wants, spareKw, seconds);
          const got = selected(keys, wants, spareKw, seconds);
          got.given.forEach((kw, i) => {
            expect(Math.abs(kw - (want.given[i] as number))).toBeLessThan(1e-9);
          });
          expect(Math.abs(got.spareKw - want.spareKw)).toBeLessThan(1e-9);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("inputs built against its pivots (sorted, reversed, organ-pipe, all equal) still come out in order", () => {
    const n = 2000;
    const shapes: Record<string, number[]> = {
      sorted: Array.from({ length: n }, (_, i) => i),
      reversed: Array.from({ length: n }, (_, i) => n - i),
      organPipe: Array.from({ length: n }, (_, i) => Math.min(i, n - i)),
      equal: Array.from({ length: n }, () => 7),
    };
    for (const keys of Object.values(shapes)) {
      const wants = keys.map((_, i) => 1 + (i % 5));
      for (const spareKw of [0.5, 1000, 3000, 5999]) {
        const want = byHand(keys, wants, spareKw);
        const got = selected(keys, wants, spareKw);
        expect(got.given.map((x) => x.toFixed(9))).toEqual(want.given.map((x) => x.toFixed(9)));
      }
    }
  });
});
