/** `bun run chaos` stopped midway: interrupted, or killed outright, it leaves no process and no file behind. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { alive, eventually, printedLine, startToolJob, tempDir } from "@evgrid/testing";

setDefaultTimeout(120_000);

/** Seeded, long, and busy with store pauses, so that one is in force soon after the grid is up. */
const PAUSING = ["--seed", "7", "--requests", "1000000", "--duration", "30", "--faults", "10"].concat([
  "--kinds",
  "pause_store",
]);

/** The run's redis-server, if it runs: its pid and whether it is stopped (`ps` state T). */
async function storeOf(parent: number): Promise<{ pid: number; paused: boolean } | undefined> {
  const ps = await new Response(Bun.spawn(["ps", "-e", "-o", "pid=,ppid=,stat=,args="]).stdout).text();
  for (const line of ps.trim().split("\n")) {
    const [pid, ppid, stat = "", ...args] = line.trim().split(/\s+/);
    if (Number(ppid) === parent && args.join(" ").includes("redis-server"))
      return { pid: Number(pid), paused: stat.startsWith("T") };
  }
  return undefined;
}

describe("bun run chaos, stopped midway", () => {
  test("SIGTERM while a fault has the store paused: resumed, then stopped with everything else; exit 130", async () => {
    using tmp = tempDir("evgrid-chaos-stop-");
    await using run = startToolJob("chaos.ts", PAUSING, tmp.path);
    const store = await eventually(
      async () => {
        const found = await storeOf(run.proc.pid);
        if (!found?.paused) throw new Error(`no store paused yet:\n${run.stdout()}`);
        return found;
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const tree = await run.pids();
    expect(tree).toContain(store.pid);
    // What a process manager does: SIGTERM to the top process only (the apps and the store get nothing).
    run.proc.kill("SIGTERM");
    const code = await run.proc.exited;
    expect({ code, stderr: code === 130 ? "" : await run.stderr() }).toEqual({ code: 130, stderr: "" });
    expect(await run.stderr()).toContain("chaos: interrupted");
    // It waited for each of them: none is left, not even for a moment, and its journals are gone.
    expect(tree.filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("its terminal closed (SIGHUP to the job): stopped as by SIGTERM, its files removed; exit 130", async () => {
    using tmp = tempDir("evgrid-chaos-hangup-");
    await using run = startToolJob("chaos.ts", PAUSING, tmp.path);
    await printedLine(run, "grid up");
    const tree = await run.pids();
    expect(readdirSync(tmp.path)).toEqual([expect.stringMatching(/^evgrid-chaos-\d+-/)]);
    // What a shell does to its jobs when its terminal goes: SIGHUP to the whole process group.
    process.kill(-run.proc.pid, "SIGHUP");
    const code = await run.proc.exited;
    expect({ code, stderr: code === 130 ? "" : await run.stderr() }).toEqual({ code: 130, stderr: "" });
    expect(await run.stderr()).toContain("chaos: interrupted");
    expect(tree.filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("kill -9 of the run: its store goes too (a watchdog), as every app does (their parent watch)", async () => {
    using tmp = tempDir("evgrid-chaos-killed-");
    await using run = startToolJob("chaos.ts", PAUSING, tmp.path);
    await printedLine(run, "grid up");
    const tree = await run.pids();
    const store = await storeOf(run.proc.pid);
    expect(store && tree.includes(store.pid)).toBe(true);
    run.proc.kill("SIGKILL");
    await eventually(() => expect(tree.filter(alive)).toEqual([]), { timeoutMs: 30_000 });
  });
});
