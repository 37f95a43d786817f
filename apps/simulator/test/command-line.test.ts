/**
 * `bun run simulate`'s flags as a user types them: a value out of bounds is exit 2 naming the flag, before
 * any work, never a stack trace.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { removeScratchDirs } from "@evgrid/testing/temp";
import { acnDir, noStack, runMain } from "./run-main.ts";

afterAll(removeScratchDirs);
setDefaultTimeout(30_000);

/** Runs the ACN sample with these flags (the optimum skipped unless they say otherwise). */
async function run(...flags: string[]) {
  const { dir, scenario } = acnDir();
  return runMain(["--scenario", scenario, "--out", join(dir, "out"), ...flags]);
}

describe("--sweep", () => {
  test("a billion points with a huge --sweep-max-points: exit 2 naming the flag, nothing allocated", async () => {
    const r = await run(
      "--sweep",
      "capacity=1:1000000:0.000000001",
      "--sweep-max-points",
      "1000000000000000",
    );
    expect(r.stderr).toContain("--sweep-max-points: must be at most 1000");
    expect(r.stderr).not.toMatch(noStack);
    expect(r.stderr).not.toContain("RangeError");
    expect(r.code).toBe(2);
  });

  test("--help says the bound", async () => {
    const r = await runMain(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--sweep-max-points <n>.*at most 1000/s);
  });

  test("an END that no whole number of STEPs reaches is refused with the two that are", async () => {
    const r = await run("--sweep", "capacity=30:35:10", "--optimum-max-sessions", "0");
    expect(r.stderr).toContain("--sweep: END 35 is not START plus a whole number of STEPs");
    expect(r.stderr).toContain("capacity=30:30:10 or capacity=30:40:10");
    expect(r.code).toBe(2);
  });
});

describe("a flag given twice, or a number given empty", () => {
  test.each([
    ["--policy", "evgrid", "edf"],
    ["--sweep", "capacity=30:40:10", "capacity=50:60:10"],
    ["--scenario", "x.yaml", "y.yaml"],
  ])("%s twice: exit 2 naming it, not the last one silently", async (flag, first, second) => {
    const r = await run(flag, first, flag, second, "--optimum-max-sessions", "0");
    expect(r.stderr).toContain(`${flag}: given more than once`);
    expect(r.code).toBe(2);
  });

  test("--out twice", async () => {
    const { dir, scenario } = acnDir();
    const r = await runMain(["--scenario", scenario, "--out", join(dir, "a"), "--out", join(dir, "b")]);
    expect(r.stderr).toContain("--out: given more than once");
    expect(r.code).toBe(2);
  });

  test.each(["--optimum-max-sessions", "--sweep-max-points"])(
    '%s "": exit 2, not taken as 0',
    async (flag) => {
      const r = await run(flag, "");
      expect(r.stderr).toContain(
        `${flag}: must be an integer >= ${flag === "--sweep-max-points" ? 1 : 0}, not empty`,
      );
      expect(r.code).toBe(2);
    },
  );
});
