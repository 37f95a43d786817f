/**
 * Only a proved optimum is "the optimum": a solver stopped by its time limit, or in any state short of
 * Optimal, leaves the report without one, saying why, and no policy is measured against its number.
 */
import { describe, expect, test } from "bun:test";
import { buildReport, generateArrivals, POLICIES, renderHtml, simulate } from "../src/index.ts";
import type { OptimumResult } from "../src/records.ts";
import { optimumNote, summaryRows } from "../src/report.ts";
import { eveningDay } from "./days.ts";

const scenario = eveningDay(220);
const arrivals = generateArrivals(scenario);
const results = POLICIES.slice(0, 3).map((p) => simulate(scenario, arrivals, p));

const solved = (over: Partial<OptimumResult>): OptimumResult => ({
  deliveredKwh: 2000,
  status: "Optimal",
  stepMin: 5,
  variables: 1000,
  constraints: 400,
  sites: "pooled",
  provedBy: "highs",
  solveMs: 5,
  ...over,
});

describe("the offline optimum's status", () => {
  test.each(["TimeLimit", "Unknown", "Infeasible"])(
    "%s: no optimum, the status said, no share of it",
    (status) => {
      const report = buildReport({ scenario, source: "test", results, optimum: solved({ status }) });
      expect(report.optimum.computed).toBe(false);
      const note = optimumNote(report.optimum);
      expect(note).toContain("not computed");
      expect(note).toContain(`the solver stopped at ${status}, not Optimal`);
      for (const p of report.policies) {
        expect(p.shareOfOptimumPct).toBeNull();
        expect(p.verdict).not.toContain("of the optimum");
      }
      for (const row of summaryRows(report, results)) expect(row[3]).toBe("not computed");
      expect(renderHtml(scenario, report, results)).not.toMatch(/\d % of the optimum/);
    },
  );

  test("Optimal, or proved by the bound without the solver: the optimum, each policy a share of it", () => {
    for (const optimum of [solved({}), solved({ status: "Empty", deliveredKwh: 0, provedBy: "bound" })]) {
      const report = buildReport({ scenario, source: "test", results, optimum });
      expect(report.optimum.computed).toBe(true);
    }
    const report = buildReport({ scenario, source: "test", results, optimum: solved({}) });
    expect(report.policies[0]?.verdict).toContain("% of the optimum");
  });
});
