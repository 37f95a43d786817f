/**
 * The long-running measurements (`bun run soak`, `soak:chain`, `bench:alloc`) stopped midway, as a process
 * manager (SIGTERM to the top process) or a closed terminal (SIGHUP to the job) stops them: every process
 * they started is gone when they exit, and so are their temporary files; exit 130.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { alive, descendants, eventually, repoRoot, tempDir } from "@evgrid/testing";

setDefaultTimeout(120_000);

/**
 * `bun apps/load-tester/src/<file> <args>` as its own process group (a terminal job), its temporary files
 * in `tmp`. `await using` kills whatever of it is left.
 */
function start(file: string, args: string[], tmp: string) {
  const proc = Bun.spawn([process.execPath, `apps/load-tester/src/${file}`, ...args], {
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
    /** Every process of the run now, with its command line (remembered for the clean-up). */
    async tree(): Promise<{ pid: number; args: string }[]> {
      const pids = await descendants(proc.pid);
      for (const pid of pids) seen.add(pid);
      if (pids.length === 0) return [];
      const ps = await new Response(
        Bun.spawn(["ps", "-o", "pid=,args=", "-p", pids.join(",")]).stdout,
      ).text();
      return ps
        .trim()
        .split("\n")
        .map((l) => ({ pid: Number(l.trim().split(/\s+/)[0]), args: l.trim() }));
    },
    /** Its exit code, and what it printed to stderr unless that is 130. */
    async exit() {
      const code = await proc.exited;
      return { code, stderr: code === 130 ? "" : await stderr };
    },
    async [Symbol.asyncDispose]() {
      if (alive(proc.pid)) process.kill(-proc.pid, "SIGKILL");
      for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
      await proc.exited;
    },
  };
}

type Run = ReturnType<typeof start>;

/** Until `run` prints `line`. */
const printed = (run: Run, line: string) =>
  eventually(
    () => {
      if (!run.stdout().includes(line)) throw new Error(`not printed yet:\n${run.stdout()}`);
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  );

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
    await using run = start("soak.ts", ["--duration-s", "600", "--sample-s", "1"], tmp.path);
    await printed(run, "soak: ");
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
    await using run = start("soak.ts", ["--duration-s", "600", "--sample-s", "1"], tmp.path);
    await printed(run, "soak: ");
    const tree = await run.tree();
    process.kill(-run.proc.pid, "SIGHUP");
    expect(await run.exit()).toEqual({ code: 130, stderr: "" });
    expect(tree.map((p) => p.pid).filter(alive)).toEqual([]);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  test("bun run soak:chain, its terminal closed: the bun run dev it measures stopped, its data removed; exit 130", async () => {
    using tmp = tempDir("evgrid-soak-chain-stop-");
    await using run = start("soak-chain.ts", ["--duration-s", "600", "--sample-s", "60"], tmp.path);
    await printed(run, "soak:chain: ");
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
    await using run = start("bench-alloc.ts", args, tmp.path);
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
