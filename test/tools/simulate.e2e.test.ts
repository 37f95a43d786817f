/**
 * `bun run simulate` as a user runs it: its flags, its errors, and the same seed giving the same bytes. The
 * report in a browser is report.e2e.test.ts.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join, resolve } from "node:path";
import { removeScratchDirs, repoRoot, runCommand, scratchDir } from "@evgrid/testing";

// The CSV files, reports and scenarios written here go with the run.
afterAll(removeScratchDirs);

setDefaultTimeout(60_000);

const run = (cmd: string[]) => runCommand(cmd);

describe("bun run simulate", () => {
  test("--help explains the scenario format; a bad scenario is exit 2 naming the field", async () => {
    const help = await run([process.execPath, "run", "simulate", "--help"]);
    expect(help.code).toBe(0);
    for (const field of [
      "substations:",
      "operatorLimits:",
      "arrivals:",
      "sessionsCsv:",
      "vehicles:",
      "priorities:",
    ])
      expect(help.stdout).toContain(field);
    const dir = scratchDir("evgrid-sim-");
    await Bun.write(
      join(dir, "bad.json"),
      JSON.stringify({ name: "x", substations: [{ id: "A", capacityKw: 1 }] }),
    );
    const bad = await run([process.execPath, "run", "simulate", "--scenario", join(dir, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("substations.0.id");
  });

  test("--policy with an unknown id, or a bad --sweep: exit 2 naming what is wrong", async () => {
    const unknown = await run([process.execPath, "run", "simulate", "--policy", "evgrid,nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      '--policy: unknown policy "nope"; valid: fewest-sessions, least-utilization',
    );
    for (const [sweep, says] of [
      ["capacity=30:150", "expected capacity=START:END:STEP"],
      [
        "capacity=30:150:-5",
        "expected capacity=START:END:STEP in kW, e.g. capacity=30:150:10 (START, END and STEP are plain numbers)",
      ],
      ["capacity=1:1000:1", "1000 points, more than --sweep-max-points 50"],
    ] as const) {
      const bad = await run([process.execPath, "run", "simulate", "--sweep", sweep]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`--sweep: ${says}`);
    }
    const capped = await run([
      process.execPath,
      ...["run", "simulate", "--sweep", "capacity=30:150:10", "--sweep-max-points", "5"],
    ]);
    expect(capped.code).toBe(2);
    expect(capped.stderr).toContain("13 points, more than --sweep-max-points 5");
  });

  test("the same seed twice: byte-identical report.json; the run time is in timing.json", async () => {
    const acn = resolve(repoRoot, "apps/simulator/scenarios/acn-workplace.yaml");
    const dir = scratchDir("evgrid-same-");
    const outputs: string[] = [];
    for (const name of ["a", "b"]) {
      const out = join(dir, name);
      const sim = await run([process.execPath, "run", "simulate", "--scenario", acn, "--out", out]);
      expect(sim.code).toBe(0);
      outputs.push(await Bun.file(join(out, "report.json")).text());
      const timing = await Bun.file(join(out, "timing.json")).json();
      expect(timing.runtimeMs).toBeGreaterThanOrEqual(0);
    }
    expect(outputs[1]).toBe(outputs[0] as string);
    expect(outputs[0]).not.toContain("runtimeMs");
  });
});
