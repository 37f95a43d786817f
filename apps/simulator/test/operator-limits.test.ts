/**
 * The operator's limits as a scenario writes them: "HH:MM" within the day, a limit ending at 24:00 (the end of
 * the day), and every other time refused with one line naming the field.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { parseScenario, runAll } from "../src/index.ts";
import { newTimeline } from "../src/timeline.ts";
import { eveningDay } from "./days.ts";
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

  test.each([
    ["to", "22:00", "24:01", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "25:00", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "24:60", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["to", "22:00", "7:00", "to: must be a time of day, HH:MM from 00:00 to 24:00"],
    ["from", "24:00", "24:00", "from: must be a time of day, HH:MM from 00:00 to 23:59"],
  ])("%s %s-%s is refused, naming the field", (_, from, to, message) => {
    expect(() => withLimit(from, to)).toThrow(`operatorLimits.0.${message}`);
  });

  test("bun run simulate: 24:00 runs; 24:01 is exit 2, one line naming the field and what it got", async () => {
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
    const ok = await run("24:00");
    expect(ok.stderr).not.toMatch(/not a valid scenario/);
    expect(ok.code).toBe(0);
    const bad = await run("24:01");
    expect(bad.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^simulate: .*limit-2401\.yaml is not a valid scenario: operatorLimits\.0\.to: /),
    ]);
    expect(bad.stderr).toContain('(the end of the day): got "24:01"');
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code).toBe(2);
  });
});
