/** `bun run chaos` stopped midway: interrupted, or killed outright, it leaves no process and no file behind. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { alive, descendants, eventually, repoRoot, tempDir } from "@evgrid/testing";

setDefaultTimeout(120_000);

/** Seeded, long, and busy with store pauses, so that one is in force soon after the grid is up. */
const PAUSING = ["--seed", "7", "--requests", "1000000", "--duration", "30", "--faults", "10"].concat([
  "--kinds",
  "pause_store",
]);

/**
 * The chaos command as its own process group (a terminal job), its temporary files in `tmp`; what it prints
 * is kept. `await using` kills whatever of it is left.
 */
function startChaos(tmp: string) {
  const proc = Bun.spawn([process.execPath, "apps/load-tester/src/chaos.ts", ...PAUSING], {
    cwd: repoRoot,
    env: { ...process.env, TMPDIR: tmp },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const out = { text: "" };
  void (async () => {
    for await (const chunk of proc.stdout) out.text += new TextDecoder().decode(chunk);
  })();
  const stderr = new Response(proc.stderr).text();
  const seen = new Set<number>();
  return {
    proc,
    stdout: () => out.text,
    stderr: () => stderr,
    /** Every process of the run now (remembered for the clean-up). */
    async tree(): Promise<number[]> {
      const tree = await descendants(proc.pid);
      for (const pid of tree) seen.add(pid);
      return tree;
    },
    async [Symbol.asyncDispose]() {
      if (alive(proc.pid)) process.kill(-proc.pid, "SIGKILL");
      for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
      await proc.exited;
    },
  };
}

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

/** Until the run says its grid is up. */
const gridUp = (run: { stdout(): string }) =>
  eventually(
    () => {
      if (!run.stdout().includes("grid up")) throw new Error(`the grid is not up yet:\n${run.stdout()}`);
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  );

describe("bun run chaos, stopped midway", () => {
  test("SIGTERM while a fault has the store paused: resumed, then stopped with everything else; exit 130", async () => {
    using tmp = tempDir("evgrid-chaos-stop-");
    await using run = startChaos(tmp.path);
    const store = await eventually(
      async () => {
        const found = await storeOf(run.proc.pid);
        if (!found?.paused) throw new Error(`no store paused yet:\n${run.stdout()}`);
        return found;
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const tree = await run.tree();
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
    await using run = startChaos(tmp.path);
    await gridUp(run);
    const tree = await run.tree();
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
    await using run = startChaos(tmp.path);
    await gridUp(run);
    const tree = await run.tree();
    const store = await storeOf(run.proc.pid);
    expect(store && tree.includes(store.pid)).toBe(true);
    run.proc.kill("SIGKILL");
    await eventually(() => expect(tree.filter(alive)).toEqual([]), { timeoutMs: 30_000 });
  });
});
