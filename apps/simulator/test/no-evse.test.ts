/**
 * Cars that found every EVSE busy and left (`evsesPerSite`, `whenEvsesBusy: leave`): the terminal table, the
 * HTML table and the verdict say how many, not only report.json.
 */
import { describe, expect, test } from "bun:test";
import { policyById } from "../src/engine.ts";
import { buildReport, generateArrivals, type PolicyResult, renderHtml, simulate } from "../src/index.ts";
import { SUMMARY_HEADER, summaryRows } from "../src/report.ts";
import { eveningDay } from "./days.ts";

describe("cars that left for want of a free EVSE", () => {
  const scenario = eveningDay(220, { evsesPerSite: 3, whenEvsesBusy: "leave" });
  const arrivals = generateArrivals(scenario);
  const results = ["evgrid", "fewest-sessions"].map((id) =>
    simulate(scenario, arrivals, policyById(id) as PolicyResult["policy"]),
  );
  const report = buildReport({ scenario, source: "test", results, optimum: { reason: "skipped" } });
  const evgrid = results[0] as PolicyResult;

  test("the day has some: most of its cars find all 6 EVSEs busy", () => {
    expect(evgrid.noEvse).toBeGreaterThan(evgrid.vehicles / 2);
  });

  test("a column of the table the terminal and the page share", () => {
    const column = SUMMARY_HEADER.indexOf("no free EVSE");
    expect(column).toBeGreaterThan(0);
    const rows = summaryRows(report, results);
    expect(rows.map((r) => r[column])).toEqual(results.map((r) => String(r.noEvse)));
    expect(renderHtml(scenario, report, results)).toContain("<th>no free EVSE</th>");
  });

  test("the verdict says how many of the cars left with nothing, only when some did", () => {
    const verdict = report.policies[0]?.verdict ?? "";
    expect(verdict).toContain(`${evgrid.noEvse} of ${evgrid.vehicles} cars left, no free EVSE`);
    const roomy = eveningDay(220);
    const plenty = simulate(roomy, generateArrivals(roomy), evgrid.policy);
    const none = buildReport({
      scenario: roomy,
      source: "test",
      results: [plenty],
      optimum: { reason: "x" },
    });
    expect(plenty.noEvse).toBe(0);
    expect(none.policies[0]?.verdict).not.toContain("EVSE");
  });
});
