import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { LoadReport } from "@evgrid/load-tester/report";
import { repoRoot, startGrid } from "@evgrid/testing";

setDefaultTimeout(60_000);

describe("bun run load", () => {
  test("--json reports every request, outcomes, per-substation shares and no breach", async () => {
    await using grid = await startGrid({ capacitiesKw: [60, 40] });
    const proc = Bun.spawn(
      [
        process.execPath,
        "run",
        "load",
        "--url",
        grid.api.url,
        "--count",
        "40",
        "--concurrency",
        "8",
        "--session-s",
        "30",
        "--watch-ms",
        "20",
        "--json",
      ],
      { cwd: repoRoot, stdout: "pipe", stderr: "pipe" },
    );
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const report = JSON.parse(out) as LoadReport;
    // 100 kW of 4.2 kW minimums: 14 + 9 = 23 admitted, the rest refused with GRID_FULL.
    expect(report).toMatchObject({ mode: "closed", sent: 40, completed: 40, admitted: 23 });
    expect(report.outcomes).toEqual({ OK: 23, "TOO_MANY_REQUESTS/GRID_FULL": 17 });
    expect(report.substations.map((s) => [s.substationId, s.sessions])).toEqual([
      ["substation-1", 14],
      ["substation-2", 9],
    ]);
    expect(report.grid?.breaches).toBe(0);
    expect(report.latency.p99Ms).toBeGreaterThan(0);
  });

  test("requests that get no answer fail the run (exit 1), with what they got in the report", async () => {
    // An API that answers the first status check, then cuts off every charge request.
    using api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) =>
        new URL(req.url).pathname.endsWith("/gridStatus")
          ? Response.json({ result: { data: { substations: [] } } })
          : new Response("upstream went away", { status: 502 }),
    });
    const proc = Bun.spawn(
      [process.execPath, "run", "load", "--url", `http://127.0.0.1:${api.port}`, "--count", "3"],
      { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
    );
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(out).toMatch(/NETWORK\/UNREACHABLE\s+3/);
    expect(code).toBe(1);
  });

  test("bad flags exit 2 and say which; an unreachable API exits 1", async () => {
    const bad = Bun.spawn([process.execPath, "run", "load", "--rate", "10", "--concurrency", "4"], {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await bad.exited).toBe(2);
    expect(await new Response(bad.stderr).text()).toContain("not both");
    const down = Bun.spawn([process.execPath, "run", "load", "--url", "http://127.0.0.1:9", "--count", "1"], {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await down.exited).toBe(1);
    expect(await new Response(down.stderr).text()).toContain("cannot reach the charge-api");
  });
});
