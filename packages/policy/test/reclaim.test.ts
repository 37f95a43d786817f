import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { addSample, type DrawSample, reclaimCap, shareFairly, trimSamples } from "../src/index.ts";

const cfg = { windowMs: 10_000, belowRatio: 0.8, marginKw: 1 };
const at = (pairs: [number, number][]): DrawSample[] => pairs.map(([atMs, drawKw]) => ({ atMs, drawKw }));
const session = { minKw: 1.4, maxKw: 11, capKw: null, allocatedKw: 11 };

describe("reclaimCap", () => {
  test("a vehicle drawing 3 kW of 11 for the whole window is capped at 3 + margin", () => {
    const samples = at([
      [0, 3],
      [4000, 3.1],
      [8000, 2.9],
      [11_000, 3],
    ]);
    expect(reclaimCap(samples, 11_000, session, cfg)).toBe(4.1);
  });

  test("nothing is taken before the window is covered", () => {
    const samples = at([
      [2000, 3],
      [8000, 3],
    ]);
    expect(reclaimCap(samples, 11_000, session, cfg)).toBeUndefined();
  });

  test("one high reading inside the window keeps the power", () => {
    const samples = at([
      [0, 3],
      [5000, 10],
      [11_000, 3],
    ]);
    expect(reclaimCap(samples, 11_000, session, cfg)).toBeUndefined();
  });

  test("the reading in force at the window's start counts", () => {
    const samples = at([
      [0, 10.5],
      [10_500, 3],
    ]);
    expect(reclaimCap(samples, 11_000, session, cfg)).toBeUndefined();
  });

  test("never below the session's minimum", () => {
    const samples = at([
      [0, 0],
      [11_000, 0],
    ]);
    expect(reclaimCap(samples, 11_000, { ...session, minKw: 4.2 }, cfg)).toBe(4.2);
  });

  test("a draw back up at the cap lifts it", () => {
    const samples = at([
      [0, 3],
      [11_000, 3.9],
    ]);
    expect(reclaimCap(samples, 11_000, { ...session, capKw: 4 }, cfg)).toBeNull();
  });

  test("a capped vehicle drawing a bit less is left alone, one drawing much less is capped lower", () => {
    const capped = { ...session, capKw: 6, allocatedKw: 6 };
    expect(
      reclaimCap(
        at([
          [0, 4.8],
          [11_000, 4.8],
        ]),
        11_000,
        capped,
        cfg,
      ),
    ).toBeUndefined();
    expect(
      reclaimCap(
        at([
          [0, 2],
          [11_000, 2],
        ]),
        11_000,
        capped,
        cfg,
      ),
    ).toBe(3);
  });

  test("a vehicle given less than it draws is never capped (it is not the one wasting power)", () => {
    const squeezed = { ...session, allocatedKw: 3 };
    expect(
      reclaimCap(
        at([
          [0, 3],
          [11_000, 3],
        ]),
        11_000,
        squeezed,
        cfg,
      ),
    ).toBeUndefined();
  });

  test("the power freed goes to the others through water-filling", () => {
    // Two vehicles on 14 kW: 7 each. The first draws 3, so it is capped at 4 and the other gets 10.
    const before = shareFairly(
      [
        { minKw: 1.4, maxKw: 11 },
        { minKw: 1.4, maxKw: 11 },
      ],
      14,
    );
    const cap = reclaimCap(
      at([
        [0, 3],
        [11_000, 3],
      ]),
      11_000,
      { ...session, allocatedKw: before[0] ?? 0 },
      cfg,
    );
    expect(cap).toBe(4);
    const after = shareFairly(
      [
        { minKw: 1.4, maxKw: cap ?? 11 },
        { minKw: 1.4, maxKw: 11 },
      ],
      14,
    );
    expect(after).toEqual([4, 10]);
  });

  test("property: a cap is always within [minKw, the ceiling) and above the peak draw", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.double({ min: 0, max: 20, noNaN: true })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.double({ min: 5, max: 50, noNaN: true }),
        (raw, minKw, maxKw) => {
          const samples = at(raw.sort((a, b) => a[0] - b[0]));
          const cap = reclaimCap(samples, 20_000, { minKw, maxKw, capKw: null, allocatedKw: maxKw }, cfg);
          if (typeof cap !== "number") return;
          expect(cap).toBeGreaterThanOrEqual(minKw);
          expect(cap).toBeLessThan(maxKw);
          const inForce = samples.filter((x) => x.atMs > 10_000).map((x) => x.drawKw);
          for (const d of inForce) expect(cap).toBeGreaterThan(d);
        },
      ),
    );
  });
});

test("trimSamples keeps the window and the reading in force at its start", () => {
  const samples = at([
    [0, 1],
    [1000, 2],
    [5000, 3],
    [9000, 4],
  ]);
  trimSamples(samples, 12_000, 10_000);
  expect(samples.map((x) => x.atMs)).toEqual([1000, 5000, 9000]);
});

describe("addSample: readings bounded by count as well as age", () => {
  const readings = (minGapMs: number) =>
    fc.array(
      fc.record({
        gapMs: fc.integer({ min: minGapMs, max: 3000 }),
        drawKw: fc.double({ min: 0, max: 11, noNaN: true }),
      }),
      { maxLength: 300 },
    );
  /**
   * Feeds the readings both to every sample in the window (`all`) and to the bounded list (`kept`), calling
   * `each` after every reading; returns both.
   */
  const replay = (
    history: { gapMs: number; drawKw: number }[],
    maxSamples: number,
    each?: (all: DrawSample[], kept: DrawSample[], atMs: number) => void,
  ) => {
    const all: DrawSample[] = [];
    const kept: DrawSample[] = [];
    let atMs = 0;
    for (const { gapMs, drawKw } of history) {
      atMs += gapMs;
      all.push({ atMs, drawKw });
      trimSamples(all, atMs, cfg.windowMs);
      addSample(kept, { atMs, drawKw }, cfg.windowMs, maxSamples);
      each?.(all, kept, atMs);
    }
    return { all, kept };
  };
  const state = fc.record({
    capKw: fc.option(fc.double({ min: 2, max: 11, noNaN: true })),
    allocatedKw: fc.double({ min: 1.4, max: 11, noNaN: true }),
  });

  test("a flood keeps at most maxSamples + 2, and never takes more power than all its readings would", () => {
    fc.assert(
      fc.property(readings(0), fc.integer({ min: 1, max: 40 }), state, (history, maxSamples, s) => {
        replay(history, maxSamples, (all, kept, atMs) => {
          expect(kept.length).toBeLessThanOrEqual(maxSamples + 2);
          const bounds = { ...session, ...s };
          const thinned = reclaimCap(kept, atMs, bounds, cfg);
          if (typeof thinned !== "number") return;
          const exact = reclaimCap(all, atMs, bounds, cfg);
          expect(typeof exact).toBe("number");
          expect(thinned).toBeGreaterThanOrEqual(exact as number);
        });
      }),
    );
  });

  test("readings spaced windowMs / maxSamples or more are kept as they are", () => {
    fc.assert(
      fc.property(readings(500), (history) => {
        const { all, kept } = replay(history, 20);
        expect(kept).toEqual(all);
      }),
    );
  });
});
