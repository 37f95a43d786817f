/**
 * The long-running measurements (`bun run soak`, `soak:chain`, `bench:alloc`) stopped midway, as a process
 * manager (SIGTERM to the top process) or a closed terminal (SIGHUP to the job) stops them: every process
 * they started is gone when they exit, and so are their temporary files; exit 130.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { alive, eventually, printedLine, startToolJob, tempDir } from "@evgrid/testing";

setDefaultTimeout(120_000);

/** A pid that no process has: one that has exited. */
async function deadPid(): Promise<number> {
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  return gone.pid;
}

describe("the long runs, stopped midway", () => {
  test("bun run soak, SIGTERM: its substation stopped, its directory removed (and one a kill -9 left); exit 130", async () => {
    using tmp = tempDir("evgrid-soak-stop-");
    // What a run killed outright left behind: its pid is gone.
    mkdirSync(join(tmp.path, `evgrid-soak-${await deadPid()}-AbC123`));
    await using run = startToolJob("soak.ts", ["--duration-s", "600", "--sample-s", "1"], tmp.path);
    await printedLine(run, "soak: ");
    // Its own directory, named for its pid; the one left behind is gone.
    expect(readdirSync(tmp.path)).toEqual([
      expect.stringMatching(new RegExp(`^evgrid-soak-${run.proc.pid}-`)),
    ]);
    const tree = await run.tree();
    expect(tree.some((p) => p.args.includes("apps/substation/"))).toBe(true);
    // What a process manager does: SIGTERM to the top process only (the substation gets nothing).
    run.proc.kill("SIGTERM");
    expect(await run.exit()).toEqual({ code: 130, stderr: "" });
    expect(tree.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("bun run soak, its terminal closed (SIGHUP to the job): stopped as by SIGTERM; exit 130", async () => {
    using tmp = tempDir("evgrid-soak-hangup-");
    await using run = startToolJob("soak.ts", ["--duration-s", "600", "--sample-s", "1"], tmp.path);
    await printedLine(run, "soak: ");
    const tree = await run.tree();
    process.kill(-run.proc.pid, "SIGHUP");
    expect(await run.exit()).toEqual({ code: 130, stderr: "" });
    expect(tree.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("bun run soak:chain, its terminal closed: the bun run dev it measures stopped, its data removed; exit 130", async () => {
    using tmp = tempDir("evgrid-soak-chain-stop-");
    await using run = startToolJob("soak-chain.ts", ["--duration-s", "600", "--sample-s", "60"], tmp.path);
    await printedLine(run, "soak:chain: ");
    const tree = await run.tree();
    expect(tree.some((p) => p.args.includes("apps/substation/"))).toBe(true);
    expect(readdirSync(tmp.path)).toEqual([expect.stringMatching(/^evgrid-dev-/)]);
    // The shell's SIGHUP reaches the job's group; bun run dev runs in a group of its own.
    process.kill(-run.proc.pid, "SIGHUP");
    expect(await run.exit()).toEqual({ code: 130, stderr: "" });
    expect(tree.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("bun run bench:alloc, SIGTERM while its bare chain runs: the three hops stopped; exit 130", async () => {
    using tmp = tempDir("evgrid-bench-alloc-stop-");
    const args = ["--pairs", "1", "--seconds", "60", "--warmup-s", "60"];
    await using run = startToolJob("bench-alloc.ts", args, tmp.path);
    const tree = await eventually(
      async () => {
        const now = await run.tree();
        expect(now.filter((p) => p.args.includes("bare-hop.ts"))).toHaveLength(3);
        return now;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    run.proc.kill("SIGTERM");
    expect(await run.exit()).toEqual({ code: 130, stderr: "" });
    expect(tree.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});
