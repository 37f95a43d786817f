import { describe, expect, test } from "bun:test";
import { type CandidateView, rankSubstations } from "../src/choice.ts";

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
