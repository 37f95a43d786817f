/** `bun run bench --smoke`: the benchmark's machinery end to end, in seconds; its numbers mean little. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { alive, descendants, eventually, repoRoot, tempDir } from "@evgrid/testing";

setDefaultTimeout(120_000);

describe("bun run bench --smoke", () => {
  test("measures the bare chain and the system, bursts, and reports every target it measured", async () => {
    const proc = Bun.spawn([process.execPath, "run", "bench", "--smoke", "--json"], {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const r = JSON.parse(out.slice(out.indexOf("{")));
    for (const run of [r.bareChain, r.system.tracesOff, r.system.tracesOn]) {
      expect(run.perS).toBeGreaterThan(0);
      expect(run.latency.p99Ms).toBeGreaterThan(0);
    }
    // With every session admitted, nothing is refused (one slow call on a busy machine is a typed 503).
    expect(r.system.tracesOff.notOk).toBeLessThanOrEqual(1);
    // The chain's CPU is read from every app on the request path: a process not found would read as 0.
    for (const app of ["chargeApi", "balancer", "substations"])
      expect({ app, found: r.system.tracesOff.cpuUsPerRequest[app] > 0 }).toEqual({ app, found: true });
    expect(r.tracesExported.exports).toBeGreaterThan(0);
    expect(r.burst).toMatchObject({ requests: 100, admitted: 100, breaches: 0 });
    const names = r.targets.map((t: { name: string }) => t.name);
    expect(names).toContain("burst: 0 capacity breaches");
    expect(names).toContain("throughput vs the bare HTTP chain, every span exported");
    expect(r.targets.find((t: { name: string }) => t.name === "burst: 0 capacity breaches").ok).toBe(true);
  });

  test("SIGTERM midway: the bun run dev it measures is stopped and its data directory removed; exit 130", async () => {
    using tmp = tempDir("evgrid-bench-stop-");
    const proc = Bun.spawn(
      [process.execPath, "apps/load-tester/src/bench.ts", "--smoke", "--no-write", "--json"],
      {
        cwd: repoRoot,
        env: { ...process.env, TMPDIR: tmp.path },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
        detached: true,
      },
    );
    const stderr = new Response(proc.stderr).text();
    let tree: number[] = [];
    try {
      // A bun run dev of the bench has its data directory (scratchDir) in the bench's TMPDIR.
      await eventually(
        () => expect(readdirSync(tmp.path)).toContainEqual(expect.stringMatching(/^evgrid-dev-/)),
        {
          timeoutMs: 60_000,
        },
      );
      tree = await descendants(proc.pid);
      // What a process manager does: SIGTERM to the top process only.
      proc.kill("SIGTERM");
      const code = await proc.exited;
      expect({ code, stderr: code === 130 ? "" : await stderr }).toEqual({ code: 130, stderr: "" });
      expect(readdirSync(tmp.path)).toEqual([]);
      expect(tree.filter(alive)).toEqual([]);
    } finally {
      if (alive(proc.pid)) process.kill(-proc.pid, "SIGKILL");
      for (const pid of tree) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
