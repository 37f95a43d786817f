import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { loadScenario, parseScenario, runAll, ScenarioError } from "../src/index.ts";
import { eveningDay } from "./days.ts";

// The CSV files, reports and scenarios written here go with the run.
afterAll(removeScratchDirs);

// A day of 10,000 sessions through four policies: 1-2 s alone, several times that on a busy shared machine.
setDefaultTimeout(60_000);

const scenarios = resolve(import.meta.dir, "../scenarios");
const shipped = loadScenario(join(scenarios, "workplace-and-home.yaml"));

/** A small day: two sites of very different size, evening arrivals of 11 kW cars. */
const small = (over: Record<string, unknown> = {}) => eveningDay(220, over);

describe("simulate", () => {
  test("the same scenario and seed give the same numbers; another seed, other numbers", () => {
    const strip = (rs: ReturnType<typeof runAll>) =>
      JSON.stringify(rs.map(({ policy, ...r }) => ({ id: policy.id, ...r })));
    const a = strip(runAll(small()));
    expect(strip(runAll(small()))).toBe(a);
    expect(strip(runAll(small({ seed: 4 })))).not.toBe(a);
  });

  test("this system's policies never exceed a site's capacity or the operator's limit", () => {
    const results = runAll(shipped.scenario, shipped.dir);
    for (const r of results.filter((x) => x.policy.controlled)) {
      for (const s of r.substations) {
        expect({ policy: r.policy.id, site: s.id, peak: s.peakUtilization <= 1 + 1e-9 }).toMatchObject({
          peak: true,
        });
        expect(s.minutesAboveCapacity).toBe(0);
        expect(s.minutesAboveLimit).toBe(0);
      }
      expect(r.overCapacityKwh).toBe(0);
    }
  });

  test("the original policy overloads a small site next to a big one, and the report counts it", () => {
    const [fewest, , evgrid] = runAll(small());
    const tiny = fewest?.substations.find((s) => s.id === "tiny");
    expect(tiny?.peakUtilization).toBeGreaterThan(1);
    expect(tiny?.minutesAboveCapacity).toBeGreaterThan(0);
    expect(fewest?.overCapacityKwh).toBeGreaterThan(0);
    expect(evgrid?.substations.every((s) => s.peakUtilization <= 1 + 1e-9)).toBe(true);
  });

  test("energy is conserved: delivered never exceeds wanted, and a 24 h day with no limits delivers something", () => {
    for (const r of runAll(small())) {
      expect(r.deliveredKwh).toBeLessThanOrEqual(r.wantedKwh + 1e-6);
      expect(r.deliveredKwh).toBeGreaterThan(0);
      expect(r.jainFairness).toBeGreaterThan(0);
      expect(r.jainFairness).toBeLessThanOrEqual(1 + 1e-12);
    }
  });

  test("priorities: higher classes get a larger share of what they wanted, paid for by standard", () => {
    const s = small({
      priorities: { fleet: 0.3, emergency: 0.05 },
      substations: [{ id: "one", capacityKw: 120 }],
    });
    const [, , plain, prioritised] = runAll(s);
    const ratio = (r: typeof plain, c: string) => {
      const x = r?.byClass[c];
      return x ? x.deliveredKwh / x.wantedKwh : Number.NaN;
    };
    expect(ratio(prioritised, "emergency")).toBeGreaterThanOrEqual(ratio(prioritised, "fleet"));
    expect(ratio(prioritised, "fleet")).toBeGreaterThan(ratio(prioritised, "standard"));
    expect(ratio(prioritised, "standard")).toBeLessThan(ratio(plain, "standard"));
  });

  test("the ACN-layout sample is read; a malformed row is an error naming its line", () => {
    const acn = loadScenario(join(scenarios, "acn-workplace.yaml"));
    const [first] = runAll(acn.scenario, acn.dir);
    expect(first?.vehicles).toBe(80);
    const dir = scratchDir("evgrid-sim-");
    writeFileSync(
      join(dir, "bad.csv"),
      [
        "connectionTime,disconnectTime,kWhDelivered",
        '"Tue, 10 Mar 2026 07:01:34 GMT","Tue, 10 Mar 2026 14:19:35 GMT",12',
        '"yesterday","Tue, 10 Mar 2026 14:19:35 GMT",12',
      ].join("\n"),
    );
    const bad = { ...acn.scenario, sessionsCsv: "bad.csv" };
    expect(() => runAll(bad, dir)).toThrow(/bad\.csv line 3: connectionTime is not a date/);
  });

  test("a scenario error names the field", () => {
    expect(() =>
      parseScenario({ name: "x", substations: [{ id: "a", capacityKw: -1 }], arrivals: { perDay: 10 } }),
    ).toThrow(/substations\.0\.capacityKw/);
    expect(() => parseScenario({ name: "x", substations: [{ id: "a", capacityKw: 1 }] })).toThrow(
      /arrivals: give either arrivals or sessionsCsv/,
    );
    expect(() =>
      parseScenario({
        name: "x",
        substations: [{ id: "a", capacityKw: 1 }],
        arrivals: { perDay: 10 },
        operatorLimits: [{ from: "25:00", to: "19:00", share: 0.5 }],
      }),
    ).toThrow(ScenarioError);
  });

  test("generated cars park no longer than a CSV's may: dwellH.max is held to maxDwellH", () => {
    const day = (over: Record<string, unknown>) =>
      parseScenario({
        name: "x",
        substations: [{ id: "a", capacityKw: 50 }],
        arrivals: { perDay: 10 },
        ...over,
      });
    // 114,000 years parked: refused, naming the field and the bound.
    expect(() => day({ dwellH: { mean: 1e9, sd: 1, max: 1e9 } })).toThrow(
      /dwellH\.max: at most maxDwellH \(168 h\)/,
    );
    expect(() => day({ dwellH: { mean: 100, sd: 1, max: 169 } })).toThrow(/dwellH\.max/);
    expect(day({ dwellH: { mean: 100, sd: 1, max: 168 } }).dwellH.max).toBe(168);
    expect(day({ maxDwellH: 1000, dwellH: { mean: 500, sd: 1, max: 1000 } }).dwellH.max).toBe(1000);
  });
});
