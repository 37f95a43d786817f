import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { runScript } from "@evgrid/testing";

setDefaultTimeout(90_000);

/** Runs the chaos check as a user would. */
const chaos = (args: string[]) => runScript("chaos", args);

/** A short run: 300 requests over 10 s, 3 faults from a random seed (printed, and replayable). */
async function shortRun(kinds: string) {
  const seed = String(Math.floor(Math.random() * 2 ** 31));
  const { stdout, stderr, code } = await chaos([
    ...["--seed", seed, "--requests", "300", "--duration", "10", "--faults", "3", "--kinds", kinds],
  ]);
  console.log(stdout);
  return { stdout, stderr, code, seed };
}

describe("bun run chaos", () => {
  test("--help names the flags and the invariants", async () => {
    const { stdout, code } = await chaos(["--help"]);
    expect(code).toBe(0);
    for (const flag of ["--seed", "--requests", "--duration", "--faults", "--kinds"])
      expect(stdout).toContain(flag);
    expect(stdout).toContain("no key with two sessions");
  });

  test("a wrong flag is named, exit 2", async () => {
    const { stderr, code } = await chaos(["--kinds", "unplug_everything"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--kinds");
  });

  test("replicas killed (kill -9) and restarted under load: every invariant holds over the whole history", async () => {
    const run = await shortRun("kill_replica");
    expect({ seed: run.seed, code: run.code }).toEqual({ seed: run.seed, code: 0 });
    expect(run.stdout).toContain("every invariant holds");
  });

  test("every fault (store paused, flushed, restarted; a replica killed): every invariant holds", async () => {
    const run = await shortRun("pause_store,flush_store,restart_store,kill_replica");
    expect({ seed: run.seed, code: run.code }).toEqual({ seed: run.seed, code: 0 });
  });
});
