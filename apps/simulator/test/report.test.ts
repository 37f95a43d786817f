/**
 * The report's pure parts: a verdict a planner can quote, the optimum column when there is none, the
 * session CSV's rows and its streaming, the sweep's syntax, the policy choice, and the same bytes twice.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { selectPolicies } from "../src/command-line.ts";
import { renderHtml } from "../src/html.ts";
import {
  buildReport,
  generateArrivals,
  POLICIES,
  type PolicyResult,
  parseScenario,
  parseSweep,
  reportJson,
  SESSIONS_CSV_HEADER,
  type SessionRecord,
  SessionsCsvWriter,
  sessionCsvRow,
  simulate,
  verdictLine,
} from "../src/index.ts";
import { optimumOrReason } from "../src/optimum-gate.ts";
import type { OptimumResult } from "../src/records.ts";
import { optimumSummary, summaryRows } from "../src/report.ts";

// The CSV files, reports and scenarios written here go with the run.
afterAll(removeScratchDirs);

const day = (seed = 5) =>
  parseScenario({
    name: "two sites",
    seed,
    substations: [
      { id: "small", capacityKw: 30 },
      { id: "large", capacityKw: 90 },
    ],
    operatorLimits: [{ from: "17:00", to: "18:00", share: 0.5 }],
    arrivals: { perDay: 150, peaks: [{ at: "08:00", spreadH: 1, share: 0.7 }] },
  });

const runDay = (seed = 5) => {
  const scenario = day(seed);
  const arrivals = generateArrivals(scenario);
  const records: [string, SessionRecord][] = [];
  const results = POLICIES.map((p) =>
    simulate(scenario, arrivals, p, { onSession: (r) => records.push([p.id, r]) }),
  );
  return { scenario, arrivals, results, records };
};

/** A result with the numbers a verdict reads, the rest as a run gives them. */
const shaped = (r: PolicyResult, over: Partial<PolicyResult>, minutesAboveCapacity = 0): PolicyResult => ({
  ...r,
  ...over,
  substations: r.substations.map((s, i) => ({
    ...s,
    minutesAboveCapacity: i === 0 ? minutesAboveCapacity : 0,
    minutesAboveLimit: 0,
  })),
});

describe("verdict", () => {
  const { results } = runDay();
  const evgrid = results.find((r) => r.policy.id === "evgrid") as PolicyResult;

  test("against the optimum: share of it, minutes over capacity or limit, p95 wait", () => {
    const r = shaped(evgrid, { withinLimitsKwh: 971, overCapacityKwh: 0, waitP95Min: 3.04 });
    const optimum = optimumSummary({
      deliveredKwh: 1000,
      status: "Optimal",
      stepMin: 5,
      variables: 1234,
      constraints: 300,
      sites: "pooled",
      provedBy: "highs",
      solveMs: 17,
    });
    expect(verdictLine(r, optimum)).toBe(
      "evgrid: 97.1 % of the optimum, 0 min over capacity or limit, p95 wait 3 min",
    );
  });

  test("without an optimum it says the share of the energy asked; an overloading policy says what it drew", () => {
    const r = shaped(
      evgrid,
      { wantedKwh: 2000, withinLimitsKwh: 1500, overCapacityKwh: 250.4, waitP95Min: 6.6 },
      1234,
    );
    expect(verdictLine(r, optimumSummary({ reason: "too big" }))).toBe(
      "evgrid: 75.0 % of the energy asked delivered within limits, 1,234 site-min over capacity, 0 over the " +
        "limit (250 kWh drawn over capacity, on paper only), p95 wait 6.6 min",
    );
  });

  test("no optimum: the column says not computed, the note says why; the solve time stays out of the JSON", () => {
    const { scenario, results } = runDay();
    const none = buildReport({
      scenario,
      source: "test",
      results,
      optimum: { reason: "skipped for a test" },
    });
    expect(none.policies.every((p) => p.shareOfOptimumPct === null)).toBe(true);
    for (const row of summaryRows(none, results)) expect(row[3]).toBe("not computed");
    expect(renderHtml(scenario, none, results)).toContain("not computed (skipped for a test)");
    const solved = buildReport({
      scenario,
      source: "test",
      results,
      optimum: {
        deliveredKwh: 1e6,
        status: "Optimal",
        stepMin: 5,
        variables: 10,
        constraints: 4,
        sites: "pooled",
        provedBy: "highs",
        solveMs: 123.4,
      },
    });
    expect(reportJson(solved)).not.toContain("solveMs");
    expect(solved.policies[0]?.verdict).toContain("% of the optimum");
  });
});

test("the optimum is solved only when asked, within the session cap; a failing solver costs the column only", async () => {
  const { scenario, arrivals } = runDay();
  const solved: OptimumResult = {
    deliveredKwh: 10,
    status: "Optimal",
    stepMin: 5,
    variables: 3,
    constraints: 2,
    sites: "pooled",
    provedBy: "highs",
    solveMs: 1,
  };
  const solve = async () => solved;
  expect(await optimumOrReason(scenario, arrivals, 1_000, solve)).toEqual(solved);
  expect(await optimumOrReason(scenario, arrivals, 0, solve)).toEqual({
    reason: "skipped: --optimum-max-sessions 0",
  });
  expect(await optimumOrReason(scenario, arrivals, 10, solve)).toEqual({
    reason: `${arrivals.length} sessions, more than --optimum-max-sessions 10`,
  });
  const broken = async () => {
    throw new Error("out of memory");
  };
  expect(await optimumOrReason(scenario, arrivals, 1_000, broken)).toEqual({
    reason: "the solver failed: out of memory",
  });
});

describe("every policy, whatever the list", () => {
  test("six policies: six verdicts, six numbered entries, none numbered twice", () => {
    const { scenario, results } = runDay();
    const six = Array.from({ length: 6 }, (_, i) => results[i % results.length] as PolicyResult).map(
      (r, i) => ({
        ...r,
        policy: { ...r.policy, id: `${r.policy.id}-${i}` as PolicyResult["policy"]["id"] },
      }),
    );
    const html = renderHtml(scenario, buildReport({ scenario, source: "test", results: six }), six);
    expect(html.match(/<li class="verdict">/g)).toHaveLength(6);
    const list = /<ol class="policies">(.*?)<\/ol>/s.exec(html)?.[1] ?? "";
    const items = [...list.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1] ?? "");
    expect(items).toHaveLength(6);
    // The list numbers them; a label that numbers itself again printed "1. 1.".
    for (const item of items) expect(item).not.toMatch(/^\d+\.|: \d+\. /);
    expect(POLICIES.every((p) => !/^\d/.test(p.label))).toBe(true);
  });

  test("--policy picks a subset in the order given; an unknown id is named with the valid ones", () => {
    expect(selectPolicies(undefined)).toEqual([...POLICIES]);
    const two = selectPolicies("evgrid, fewest-sessions");
    expect(Array.isArray(two) && two.map((p) => p.id)).toEqual(["evgrid", "fewest-sessions"]);
    const bad = selectPolicies("evgrid,edfx");
    expect(bad).toEqual({
      error: `unknown policy "edfx"; valid: ${POLICIES.map((p) => p.id).join(", ")}`,
    });
    expect(selectPolicies(" , ")).toMatchObject({ error: expect.stringContaining("at least one") });
  });
});

describe("sessions.csv", () => {
  test("one row per vehicle and policy, quoted where needed, fixed decimals", () => {
    const { arrivals, records } = runDay();
    expect(records).toHaveLength(arrivals.length * POLICIES.length);
    expect(
      sessionCsvRow("evgrid", {
        id: 7,
        sessionId: "s-7",
        siteId: "site-1",
        stationId: 'bay "3", west',
        arriveMin: 480.123,
        departMin: 600,
        askedKwh: 12.34567,
        deliveredKwh: 10,
        waitedMin: 1.2,
        outcome: "charged",
      }),
    ).toBe('evgrid,7,site-1,"bay ""3"", west",480.12,600.00,12.346,10.000,1.20,charged,s-7');
    // A station id a spreadsheet would run as a formula (=, +, -, @) is written as text.
    const formula = {
      id: 8,
      sessionId: null,
      siteId: "site-1",
      stationId: "=HYPERLINK(1)",
      arriveMin: 0,
      departMin: 1,
    };
    const row = sessionCsvRow("evgrid", {
      ...formula,
      askedKwh: 1,
      deliveredKwh: 1,
      waitedMin: 0,
      outcome: "charged",
    });
    expect(row.split(",")[3]).toBe("'=HYPERLINK(1)");
    const never = records.find(([, r]) => r.outcome === "refused")?.[1];
    if (never) expect(never.deliveredKwh).toBe(0);
  });

  test("written as a stream: rows are on disk before the file is closed, all of them after", () => {
    const { records } = runDay();
    const path = join(scratchDir("evgrid-csv-"), "sessions.csv");
    const csv = new SessionsCsvWriter(path, 4096);
    for (const [id, r] of records.slice(0, 200)) csv.add(id, r);
    expect(statSync(path).size).toBeGreaterThan(4096);
    for (const [id, r] of records.slice(200)) csv.add(id, r);
    csv.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe(SESSIONS_CSV_HEADER);
    expect(lines.length).toBe(records.length + 1);
    expect(lines[1]).toBe(sessionCsvRow(...(records[0] as [string, SessionRecord])));
  });
});

describe("--sweep", () => {
  test("START:END:STEP in kW, END included, binary fractions landing on END", () => {
    expect(parseSweep("capacity=30:150:10", 50)).toEqual({
      parameter: "capacity",
      valuesKw: [30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150],
    });
    expect(parseSweep("capacity=0.1:0.3:0.1", 50)).toEqual({
      parameter: "capacity",
      valuesKw: [0.1, 0.2, 0.3],
    });
  });

  test("bad syntax, a bad range or too many points: a message saying which", () => {
    const error = (s: string, max = 50) => (parseSweep(s, max) as { error: string }).error;
    expect(error("capacity=30:150")).toContain("expected capacity=START:END:STEP");
    expect(error("power=30:150:10")).toContain("expected capacity=START:END:STEP");
    expect(error("capacity=30:abc:10")).toContain("plain numbers");
    expect(error("capacity=0:150:10")).toContain("START must be more than 0");
    expect(error("capacity=150:30:10")).toContain("must not be below START");
    expect(error("capacity=30:150:0")).toContain("STEP must be more than 0");
    expect(error("capacity=30:150:10", 12)).toBe(
      "13 points, more than --sweep-max-points 12: take a larger STEP",
    );
    // Counted before any array is made, and never more than the bound, whatever a caller allows.
    expect(error("capacity=1:1000000:0.000000001", 1e15)).toContain("more than --sweep-max-points 1000");
    // Finer than a watt, points would round alike (or to 0).
    expect(error("capacity=1:1.00001:0.0000001", 200)).toContain("at least 0.001 kW");
    expect(error("capacity=0.0000001:0.0000005:0.0000001")).toContain("at least 0.001 kW");
    expect(error("capacity=30:35:10")).toBe(
      "END 35 is not START plus a whole number of STEPs: capacity=30:30:10 or capacity=30:40:10",
    );
    expect(error("capacity=0.1:0.35:0.1")).toContain("capacity=0.1:0.3:0.1 or capacity=0.1:0.4:0.1");
  });
});

describe("report.json", () => {
  test("the same seed gives the same bytes; another seed other bytes", () => {
    const json = (seed: number) => {
      const { scenario, results } = runDay(seed);
      return reportJson(buildReport({ scenario, source: "test", results }));
    };
    const first = json(5);
    expect(json(5)).toBe(first);
    expect(json(6)).not.toBe(first);
    expect(first).not.toContain("runtimeMs");
  });
});
