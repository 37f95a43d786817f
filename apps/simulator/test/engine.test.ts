import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join, resolve } from "node:path";
import { POLICIES, type PolicyResult, policyById, simulate } from "../src/engine.ts";
import {
  type Arrival,
  generateArrivals,
  loadScenario,
  offlineOptimum,
  parseScenario,
  readSessionsCsv,
  type Scenario,
} from "../src/index.ts";
import type { SessionRecord } from "../src/records.ts";
import { eveningDay } from "./days.ts";

// Whole days through seven policies: seconds alone, several times that on a busy shared machine.
setDefaultTimeout(120_000);

const policy = (id: string) => {
  const p = policyById(id);
  if (!p) throw new Error(`no policy ${id}`);
  return p;
};

const car = (id: number, arriveMin: number, departMin: number, over: Partial<Arrival> = {}): Arrival => ({
  id,
  arriveMin,
  departMin,
  wantKwh: 100,
  minKw: 4.2,
  maxKw: 11,
  kind: "AC 11",
  priority: "standard",
  ...over,
});

const run = (scenario: Scenario, arrivals: Arrival[], id: string) => {
  const records: SessionRecord[] = [];
  const result = simulate(scenario, arrivals, policy(id), { onSession: (r) => records.push(r) });
  return { result, records: records.sort((a, b) => a.id - b.id) };
};

/** One 22 kW site; the operator cuts it to 30 % (6.6 kW) from 10:00 to 11:00. */
const cutDay = (over: Record<string, unknown> = {}) =>
  parseScenario({
    name: "cut",
    substations: [{ id: "a", capacityKw: 22 }],
    operatorLimits: [{ from: "10:00", to: "11:00", share: 0.3 }],
    arrivals: { perDay: 1 },
    maxWaitMin: 60,
    ...over,
  });
/** Car 0 from 08:00, car 1 from 08:10 to 10:20: the cut at 10:00 sheds car 1 (the newest). */
const cutCars = () => [car(0, 480, 720), car(1, 490, 620)];

describe("a car cut by the operator's limit", () => {
  test("that leaves before it is re-admitted charged: it is not counted as refused", () => {
    const { result, records } = run(cutDay(), cutCars(), "evgrid");
    expect(result.curtailedSessions).toBe(1);
    expect(result.refused).toBe(0);
    expect(records[1]?.outcome).toBe("charged");
    expect(records[1]?.deliveredKwh).toBeGreaterThan(0);
  });

  test("waited from the cut (10:00 to its departure at 10:20), not from its arrival", () => {
    const { result, records } = run(cutDay(), cutCars(), "evgrid");
    expect(result.waitP95Min).toBeCloseTo(20, 6);
    expect(records[1]?.waitedMin).toBeCloseTo(20, 6);
  });

  test("gives up after maxWaitMin like any waiting car", () => {
    const { result, records } = run(cutDay({ maxWaitMin: 5 }), cutCars(), "evgrid");
    expect(result.waitP95Min).toBeCloseTo(5, 6);
    expect(records[1]?.waitedMin).toBeCloseTo(5, 6);
  });
});

describe("per-session records and aggregates", () => {
  const day = eveningDay(110, { operatorLimits: [{ from: "18:00", to: "19:00", share: 0.5 }] });
  const arrivals = generateArrivals(day);

  test("one record per vehicle; they add up to the aggregates; energy in kWh", () => {
    for (const p of POLICIES) {
      const { result, records } = run(day, arrivals, p.id);
      expect(records.map((r) => r.id)).toEqual(arrivals.map((a) => a.id).sort((a, b) => a - b));
      const delivered = records.reduce((s, r) => s + r.deliveredKwh, 0);
      expect(delivered).toBeCloseTo(result.deliveredKwh, 6);
      expect(records.filter((r) => r.outcome === "refused").length).toBe(result.refused);
      for (const r of records) expect(r.deliveredKwh).toBeLessThanOrEqual(r.askedKwh + 1e-6);
      // Energy within limits never exceeds what was delivered; controlled policies deliver all of it so.
      expect(result.withinLimitsKwh).toBeLessThanOrEqual(result.deliveredKwh + 1e-6);
      if (p.controlled) expect(result.withinLimitsKwh).toBeCloseTo(result.deliveredKwh, 3);
    }
  });

  test("the same seed gives byte-identical results and records", () => {
    const once = () =>
      JSON.stringify(
        POLICIES.map((p) => run(day, arrivals, p.id)).map(({ result, records }) => [result, records]),
      );
    expect(once()).toBe(once());
  });

  test("policy labels carry no numbers; ids pick a subset", () => {
    for (const p of POLICIES) expect(p.label).not.toMatch(/^\d/);
    expect(policyById("edf")?.share).toBe("edf");
    expect(policyById("nope")).toBeUndefined();
  });
});

/** Controlled policies on a day, checked over the whole history: never above capacity or limit. */
const withinLimits = (r: PolicyResult) => {
  for (const s of r.substations) {
    expect({ policy: r.policy.id, site: s.id, above: s.minutesAboveCapacity + s.minutesAboveLimit }).toEqual({
      policy: r.policy.id,
      site: s.id,
      above: 0,
    });
    expect(s.peakUtilization).toBeLessThanOrEqual(1 + 1e-9);
  }
  expect(r.overCapacityKwh).toBe(0);
};

describe("deadlines", () => {
  /** Short stays on one small site: whoever leaves first must be served first. */
  const deadlineDay = (seed: number) =>
    parseScenario({
      name: "deadline-heavy",
      seed,
      substations: [{ id: "depot", capacityKw: 60 }],
      arrivals: { perDay: 200, peaks: [{ at: "08:00", spreadH: 1.5, share: 0.7 }] },
      vehicles: [{ name: "AC 22", share: 1, maxKw: 22, minKw: 1.4 }],
      energyKwh: { mean: 12, sd: 6, min: 2, max: 30 },
      dwellH: { mean: 1.5, sd: 1, min: 0.5, max: 6 },
    });

  test("EDF and LLF deliver more than equal shares on deadline-heavy seeded days, all within limits", () => {
    for (const seed of [1, 2, 3]) {
      const day = deadlineDay(seed);
      const arrivals = generateArrivals(day);
      const [evgrid, edf, llf, deadlines] = ["evgrid", "edf", "llf", "evgrid-deadlines"].map(
        (id) => run(day, arrivals, id).result,
      ) as [PolicyResult, PolicyResult, PolicyResult, PolicyResult];
      const context = { seed, evgrid: evgrid.deliveredKwh, edf: edf.deliveredKwh, llf: llf.deliveredKwh };
      expect({ ...context, edf: edf.deliveredKwh > evgrid.deliveredKwh }).toMatchObject({ edf: true });
      expect({ ...context, llf: llf.deliveredKwh > evgrid.deliveredKwh }).toMatchObject({ llf: true });
      for (const r of [evgrid, edf, llf, deadlines]) withinLimits(r);
    }
  });

  test("a car with any slack at all is never starved by one that cannot make its departure", () => {
    // One 12.4 kW site: h cannot make its departure (100 kWh in an hour), b can, with `slackS` to spare. The
    // re-share at b's crossing, the first one time alone triggers, must find b able, however little slack
    // is left (a rounding error below 0 must not put it behind h).
    const site = parseScenario({
      name: "one",
      substations: [{ id: "a", capacityKw: 12.4 }],
      arrivals: { perDay: 1 },
    });
    const short: number[] = [];
    for (let i = 0; i < 200; i++) {
      const slackS = 0.05 + i * 0.37;
      const wantKwh = (11 * (120 - slackS / 60)) / 60;
      const cars = [car(0, 0, 60, { wantKwh: 100, minKw: 1.4 }), car(1, 0, 120, { wantKwh, minKw: 1.4 })];
      const b = run(site, cars, "evgrid-deadlines").records[1] as SessionRecord;
      if (b.deliveredKwh < wantKwh - 1e-6) short.push(slackS);
    }
    expect(short).toEqual([]);
  });

  test("on seeded deadline-heavy days evgrid-deadlines is never below EDF and within 0.5 % of LLF", () => {
    // LLF lets a car that cannot make its departure starve one that can; evgrid-deadlines never does, and
    // that is all it gives up. A mixed fleet, three depot sizes.
    for (const capacityKw of [40, 60, 120])
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const day = parseScenario({
          name: "deadline-heavy, mixed",
          seed,
          substations: [{ id: "depot", capacityKw }],
          arrivals: { perDay: 200, peaks: [{ at: "08:00", spreadH: 1.5, share: 0.7 }] },
          vehicles: [
            { name: "AC 22", share: 0.6, maxKw: 22, minKw: 1.4 },
            { name: "AC 7", share: 0.4, maxKw: 7.4, minKw: 1.4 },
          ],
          energyKwh: { mean: 12, sd: 6, min: 2, max: 30 },
          dwellH: { mean: 1.5, sd: 1, min: 0.5, max: 6 },
        });
        const arrivals = generateArrivals(day);
        const [edf, llf, deadlines] = ["edf", "llf", "evgrid-deadlines"].map(
          (id) => run(day, arrivals, id).result.deliveredKwh,
        ) as [number, number, number];
        const context = { capacityKw, seed, edf, llf, deadlines };
        expect({ ...context, notBelowEdf: deadlines >= edf - 1e-6 }).toMatchObject({ notBelowEdf: true });
        expect({ ...context, nearLlf: deadlines >= llf * 0.995 }).toMatchObject({ nearLlf: true });
      }
  });

  const scenarios = resolve(import.meta.dir, "../scenarios");
  const shipped = ["acn-workplace.yaml", "workplace-and-home.yaml"].map((f) => {
    const { scenario, dir } = loadScenario(join(scenarios, f));
    return {
      f,
      scenario,
      arrivals: scenario.sessionsCsv ? readSessionsCsv(scenario, dir) : generateArrivals(scenario),
    };
  });

  test("on every shipped scenario the deadline-aware policies stay within capacity and limits", () => {
    for (const { scenario, arrivals } of shipped)
      for (const id of ["edf", "llf", "evgrid-deadlines"]) withinLimits(run(scenario, arrivals, id).result);
  });

  // The quality bar, on the scenarios as shipped (their own seeds): on the ACN sample evgrid-deadlines
  // delivers 95.3 % of the optimum (937.4 kWh; EDF 937.1, LLF 936.8), on workplace-and-home 98.2 %.
  test("on every shipped scenario evgrid-deadlines delivers at least as much as EDF and LLF, and 95 % of the offline optimum", async () => {
    for (const { f, scenario, arrivals } of shipped) {
      const [edf, llf, deadlines] = ["edf", "llf", "evgrid-deadlines"].map(
        (id) => run(scenario, arrivals, id).result,
      ) as [PolicyResult, PolicyResult, PolicyResult];
      const optimumKwh = (await offlineOptimum(scenario, arrivals)).deliveredKwh;
      const context = { f, edf: edf.deliveredKwh, llf: llf.deliveredKwh, optimumKwh };
      const notBelow = deadlines.deliveredKwh >= Math.max(edf.deliveredKwh, llf.deliveredKwh) - 1e-6;
      const ofOptimum = deadlines.withinLimitsKwh / optimumKwh;
      expect({ ...context, ofOptimum, notBelow, atLeast95: ofOptimum >= 0.95 }).toMatchObject({
        notBelow: true,
        atLeast95: true,
      });
      withinLimits(deadlines);
    }
  });
});
