/**
 * The operator's limits as a scenario writes them: "HH:MM" within the day, a limit ending at 24:00 (the end of
 * the day) or crossing midnight (22:00 to 06:00: the night), in force every day the run covers; every other
 * time refused with one line naming the field.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { POLICIES, simulate } from "../src/engine.ts";
import { type Arrival, offlineOptimum, parseScenario, runAll, type Scenario } from "../src/index.ts";
import { newTimeline } from "../src/timeline.ts";
import { eveningDay, overnightCar } from "./days.ts";
import { noStack, runMain } from "./run-main.ts";

afterAll(removeScratchDirs);
setDefaultTimeout(30_000);

const withLimit = (from: string, to: string) =>
  parseScenario({
    name: "limits",
    substations: [{ id: "a", capacityKw: 50 }],
    arrivals: { perDay: 10 },
    operatorLimits: [{ from, to, share: 0.5 }],
  });

const car = overnightCar;
const policy = (id: string) => POLICIES.find((p) => p.id === id) as (typeof POLICIES)[number];

describe("operator limits", () => {
  test("a limit may end at 24:00, the end of the day, and is in force until then", () => {
    expect(withLimit("22:00", "24:00").operatorLimits[0]).toMatchObject({ from: 22 * 60, to: 24 * 60 });
    const events = newTimeline(withLimit("22:00", "24:00"), 24 * 60).toArray();
    const limits = events.filter((e) => e.kind === "limit").sort((x, y) => x.t - y.t);
    expect(limits.map((e) => [e.t, e.share])).toEqual([
      [22 * 60, 0.5],
      [24 * 60, null],
    ]);
  });

  test("an evening limit to 24:00 binds: the policies that ignore it go over it, this system's never", () => {
    const day = eveningDay(80, { operatorLimits: [{ from: "19:00", to: "24:00", share: 0.3 }] });
    const [fewest, , evgrid] = runAll(day);
    const overLimit = (r: typeof fewest) => r?.substations.reduce((sum, s) => sum + s.minutesAboveLimit, 0);
    expect(overLimit(fewest)).toBeGreaterThan(0);
    expect(overLimit(evgrid)).toBe(0);
  });

  test("a limit across midnight is the night: 22:00 to 24:00 and 00:00 to 06:00, each day", () => {
    const night = withLimit("22:00", "06:00");
    expect(night.operatorLimits.map((l) => [l.from, l.to, l.share])).toEqual([
      [22 * 60, 24 * 60, 0.5],
      [0, 6 * 60, 0.5],
    ]);
    expect(withLimit("22:00", "00:00").operatorLimits.map((l) => [l.from, l.to])).toEqual([
      [22 * 60, 24 * 60],
    ]);
    // Cars parked until 30:00 (06:00 the next morning): the night's limit holds to its end, then lifts.
    const park = { id: 0, arriveMin: 20 * 60, departMin: 31 * 60 } as Arrival;
    const limits = newTimeline(night, 24 * 60, [park])
      .toArray()
      .filter((e) => e.kind === "limit")
      .sort((x, y) => x.t - y.t);
    expect(limits.map((e) => [e.t / 60, e.share])).toEqual([
      [0, 0.5],
      [6, null],
      [22, 0.5],
      [30, null],
    ]);
  });

  test("a car parked overnight under a night limit: held to it from 22:00 to 06:00 the next morning", async () => {
    // One 20 kW site at half from 22:00 to 06:00; one car of 20 kW there from 21:00 to 07:00, wanting more
    // than it can get: 1 h at 20 kW, 8 h at 10 kW, 1 h at 20 kW.
    const day = parseScenario({
      name: "overnight",
      substations: [{ id: "home", capacityKw: 20 }],
      arrivals: { perDay: 1 },
      operatorLimits: [{ from: "22:00", to: "06:00", share: 0.5 }],
      sampleMin: 60,
    });
    const evgrid = simulate(day, [car], policy("evgrid"));
    expect(evgrid.deliveredKwh).toBeCloseTo(20 + 8 * 10 + 20, 6);
    expect(evgrid.substations[0]?.minutesAboveLimit).toBe(0);
    // The chart's limit line: 10 kW at night, either side of midnight, none by day.
    expect([3, 12, 23, 24].map((h) => evgrid.substations[0]?.limit[h])).toEqual([10, null, 10, 10]);
    // A policy that ignores the limit draws 20 kW all night: 8 h over it, the next morning's 6 h included.
    const ignoring = simulate(day, [car], policy("fewest-sessions"));
    expect(ignoring.deliveredKwh).toBeCloseTo(200, 6);
    expect(ignoring.substations[0]?.minutesAboveLimit).toBe(8 * 60);
    // The offline optimum is held to the same night.
    expect((await offlineOptimum(day, [car], { stepMin: 5 })).deliveredKwh).toBeCloseTo(120, 6);
  });

  test("a Scenario built by hand (the library API) with a limit across midnight: the night, as a parsed one", async () => {
    // The same night as above, written as minutes of the day with to before from, not through the parser.
    const parsed = parseScenario({
      name: "by hand",
      substations: [{ id: "home", capacityKw: 20 }],
      arrivals: { perDay: 1 },
      sampleMin: 60,
    });
    const byHand: Scenario = { ...parsed, operatorLimits: [{ from: 22 * 60, to: 6 * 60, share: 0.5 }] };
    const evgrid = simulate(byHand, [car], policy("evgrid"));
    expect(evgrid.deliveredKwh).toBeCloseTo(20 + 8 * 10 + 20, 6);
    expect(evgrid.substations[0]?.minutesAboveLimit).toBe(0);
    // 10 kW from 22:00 to 06:00, on the first night's morning and the next one's.
    expect([3, 6, 12, 21, 22, 24, 29, 30].map((h) => evgrid.substations[0]?.limit[h])).toEqual([
      10,
      null,
      null,
      null,
      10,
      10,
      10,
      null,
    ]);
    const ignoring = simulate(byHand, [car], policy("fewest-sessions"));
    expect(ignoring.substations[0]?.minutesAboveLimit).toBe(8 * 60);
    expect((await offlineOptimum(byHand, [car], { stepMin: 5 })).deliveredKwh).toBeCloseTo(120, 6);
    // A time outside the day, or to equal to from, is refused by name rather than read as no limit.
    for (const [from, to] of [
      [22 * 60, 22 * 60],
      [22 * 60, 30 * 60],
      [-60, 6 * 60],
    ])
      expect(() =>
        simulate(
          { ...parsed, operatorLimits: [{ from, to, share: 0.5 }] } as Scenario,
          [car],
          policy("evgrid"),
        ),
      ).toThrow(RangeError);
  });

  test("a hand-built limit's share outside 0 to 1 is refused, as the parser refuses it, by the engine and the optimum", async () => {
    // A share of -0.5 made the optimum "Infeasible" with -600 kWh delivered and the engine count every minute
    // over the limit; NaN made HiGHS fail on its row bound; 1.5 was a limit above capacity in the engine only.
    const parsed = parseScenario({
      name: "by hand",
      substations: [{ id: "home", capacityKw: 20 }],
      arrivals: { perDay: 1 },
    });
    for (const share of [-0.5, Number.NaN, 1.5]) {
      const byHand: Scenario = { ...parsed, operatorLimits: [{ from: 0, to: 24 * 60, share }] };
      expect(() => simulate(byHand, [car], policy("evgrid"))).toThrow(RangeError);
      await expect(offlineOptimum(byHand, [car], { stepMin: 5 })).rejects.toThrow(RangeError);
    }
    for (const share of [0, 1])
      expect(
        simulate({ ...parsed, operatorLimits: [{ from: 0, to: 60, share }] }, [car], policy("evgrid")),
      ).toBeDefined();
  });

  test.each([
    ["to", "22:00", "22:00", 'to: must not equal from (all day is from "00:00" to "24:00")'],
    ["to", "22:00", "24:01", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "25:00", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "24:60", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "7:00", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["from", "24:00", "24:00", "from: must be a time of day, HH:MM from 00:00 to 23:59"],
  ])("%s %s-%s is refused, naming the field", (_, from, to, message) => {
    expect(() => withLimit(from, to)).toThrow(`operatorLimits.0.${message}`);
  });

  test("bun run simulate: 24:00 and 06:00 (across midnight) run; 24:01 is exit 2, one line naming the field and what it got", async () => {
    const dir = scratchDir("evgrid-limits-");
    const run = async (to: string) => {
      const scenario = join(dir, `limit-${to.replace(":", "")}.yaml`);
      writeFileSync(
        scenario,
        [
          "name: a limit to the end of the day",
          "substations: [{ id: a, capacityKw: 50 }]",
          "arrivals: { perDay: 20 }",
          `operatorLimits: [{ from: "22:00", to: "${to}", share: 0.5 }]`,
          "",
        ].join("\n"),
      );
      const args = ["--policy", "evgrid", "--optimum-max-sessions", "0", "--json"];
      return runMain(["--scenario", scenario, "--out", join(dir, `out-${to.replace(":", "")}`), ...args]);
    };
    for (const to of ["24:00", "06:00"]) {
      const ok = await run(to);
      expect({ to, stderr: ok.stderr }).not.toMatchObject({
        stderr: expect.stringMatching(/not a valid scenario/),
      });
      expect({ to, code: ok.code }).toEqual({ to, code: 0 });
    }
    const bad = await run("24:01");
    expect(bad.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^simulate: .*limit-2401\.yaml is not a valid scenario: operatorLimits\.0\.to: /),
    ]);
    expect(bad.stderr).toContain('(the end of the day): got "24:01"');
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code).toBe(2);
  });
});
