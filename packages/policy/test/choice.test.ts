import { describe, expect, test } from "bun:test";
import { bestCandidate, type CandidateView, projectedUtilizationAt, rankSubstations } from "../src/choice.ts";

const view = (id: string, capacityKw: number, demandKw = 0, committedMinKw = 0): CandidateView => ({
  id,
  capacityKw,
  effectiveCapacityKw: capacityKw,
  committedMinKw,
  demandKw,
  inflightMinKw: 0,
  inflightMaxKw: 0,
});
const car = { minKw: 4.2, maxKw: 11 };

describe("rankSubstations", () => {
  test("prefers the lowest projected utilization, weighting by capacity", () => {
    // 44 kW demanded of 150 is lighter than 22 of 50.
    const ranking = rankSubstations([view("small", 50, 22), view("big", 150, 44)], car);
    expect(ranking.feasible.map((c) => c.id)).toEqual(["big", "small"]);
  });

  test("marks a site whose minimums are spoken for as full, whatever its utilization", () => {
    const ranking = rankSubstations([view("a", 42, 42, 42), view("b", 100, 90, 80)], car);
    expect(ranking.full).toEqual([{ id: "a", reason: "INSUFFICIENT_CAPACITY" }]);
    expect(ranking.feasible.map((c) => c.id)).toEqual(["b"]);
  });

  test("in-flight assignments count, so a burst on a stale view spreads out", () => {
    const views = [view("a", 100), view("b", 100)];
    const picks: string[] = [];
    for (let i = 0; i < 10; i++) {
      const best = rankSubstations(views, car).feasible[0];
      if (!best) throw new Error("nothing feasible");
      picks.push(best.id);
      const chosen = views.find((v) => v.id === best.id) as CandidateView;
      chosen.inflightMinKw += car.minKw;
      chosen.inflightMaxKw += car.maxKw;
    }
    expect(picks.filter((p) => p === "a").length).toBe(5);
    expect(picks.filter((p) => p === "b").length).toBe(5);
  });

  test("ties are broken at random, not always towards the first listed", () => {
    const first = new Set<string>();
    for (let i = 0; i < 50; i++) {
      first.add(rankSubstations([view("a", 100), view("b", 100)], car).feasible[0]?.id ?? "");
    }
    expect(first).toEqual(new Set(["a", "b"]));
  });

  test("a site with no effective capacity (limit 0) is full", () => {
    const off = { ...view("off", 150), effectiveCapacityKw: 0 };
    expect(rankSubstations([off], car).full).toEqual([{ id: "off", reason: "OPERATOR_LIMIT" }]);
  });

  test("a site held down by the operator's limit is full for that reason, not for want of hardware", () => {
    const limited = { ...view("dr", 150, 0, 40), effectiveCapacityKw: 42 };
    expect(rankSubstations([limited], car).full).toEqual([{ id: "dr", reason: "OPERATOR_LIMIT" }]);
  });
});

describe("bestCandidate (a dispatch's one-pass choice)", () => {
  /** A small deterministic generator, so a failure can be replayed. */
  const seeded = (seed: number) => () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };

  test("picks what the full ranking puts first, for many random grids", () => {
    const rnd = seeded(7);
    for (let round = 0; round < 2000; round++) {
      const n = 1 + Math.floor(rnd() * 40);
      const candidates: CandidateView[] = Array.from({ length: n }, (_, i) => {
        const capacityKw = [50, 150, 300][Math.floor(rnd() * 3)] as number;
        return {
          id: `s${i}`,
          capacityKw,
          effectiveCapacityKw: rnd() < 0.2 ? capacityKw / 2 : capacityKw,
          // Coarse figures, so that equal projections (ties) happen often.
          committedMinKw: Math.floor(rnd() * 4) * 25,
          demandKw: Math.floor(rnd() * 8) * 25,
          inflightMinKw: Math.floor(rnd() * 2) * 11,
          inflightMaxKw: Math.floor(rnd() * 2) * 11,
        };
      });
      const request = { minKw: Math.floor(rnd() * 3) * 11, maxKw: 22 };
      const first = rankSubstations(candidates, request).feasible[0];
      const best = bestCandidate(candidates, (c) => c, request);
      // Same merit (a tie may be broken either way), or both find nothing.
      expect(best === undefined).toBe(first === undefined);
      if (best && first) expect(projectedUtilizationAt(best, request)).toBe(first.projectedUtilization);
    }
  });

  test("leaves out what the view says to leave out", () => {
    const [a, b] = [view("a", 150, 0), view("b", 150, 100)];
    expect(bestCandidate([a, b], (c) => c, { minKw: 0, maxKw: 11 })?.id).toBe("a");
    expect(bestCandidate([a, b], (c) => (c === a ? null : c), { minKw: 0, maxKw: 11 })?.id).toBe("b");
  });

  test("breaks ties uniformly at random", () => {
    const four = ["a", "b", "c", "d"].map((id) => view(id, 150));
    const picks = new Map<string, number>();
    const rnd = seeded(11);
    for (let i = 0; i < 8000; i++) {
      const id = bestCandidate(four, (c) => c, { minKw: 0, maxKw: 11 }, rnd)?.id as string;
      picks.set(id, (picks.get(id) ?? 0) + 1);
    }
    // 2,000 each expected; 4 standard deviations is about 155.
    for (const id of ["a", "b", "c", "d"]) expect(Math.abs((picks.get(id) ?? 0) - 2000)).toBeLessThan(160);
  });
});
