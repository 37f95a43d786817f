import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { SubstationLoad } from "@evgrid/contract";
import { repoRoot, startGrid } from "@evgrid/testing";
import { runClosed, runOpen } from "../src/load/driver.ts";
import { GridWatcher, isBreach, spreadOf } from "../src/load/grid-watch.ts";
import type { LoadReport } from "../src/load/report.ts";
import { RunStats } from "../src/load/stats.ts";

setDefaultTimeout(60_000);

const load = (id: string, over: Partial<SubstationLoad> = {}): SubstationLoad => ({
  substationId: id,
  capacityKw: 100,
  limitKw: null,
  effectiveCapacityKw: 100,
  allocatedKw: 50,
  demandKw: 50,
  committedMinKw: 20,
  activeSessions: 5,
  utilization: 0.5,
  headroomKw: 80,
  draining: false,
  version: 1,
  measuredAtMs: 0,
  ...over,
});

describe("load driver", () => {
  test("closed model sends exactly --count requests and never more than --concurrency at once", async () => {
    const stats = new RunStats();
    let inflight = 0;
    let peak = 0;
    await runClosed(
      stats,
      async () => {
        peak = Math.max(peak, ++inflight);
        await Bun.sleep(1);
        inflight -= 1;
        return { ok: true, substationId: "s", allocatedKw: 11, tries: 1 };
      },
      8,
      { count: 100 },
    );
    expect([stats.sent, stats.completed, stats.admitted, peak]).toEqual([100, 100, 100, 8]);
  });

  test("open model keeps the arrival rate and counts arrivals it had to drop", async () => {
    const stats = new RunStats();
    // Each request takes 200 ms but only 5 may be in flight: at 200/s most arrivals are dropped, not delayed.
    await runOpen(
      stats,
      () => Bun.sleep(200).then(() => ({ ok: false, code: "X", reason: "Y" })),
      200,
      { durationS: 0.5 },
      {
        maxInflight: 5,
        poisson: false,
      },
    );
    expect(stats.sent + stats.dropped).toBeGreaterThanOrEqual(95);
    expect(stats.sent).toBeLessThanOrEqual(15);
    expect(stats.dropped).toBeGreaterThan(80);
    expect(stats.outcomes.get("X/Y")).toBe(stats.completed);
  });
});

describe("grid watch", () => {
  test("a breach is allocated power or admitted minimums above the capacity in force", () => {
    expect(isBreach(load("a"))).toBe(false);
    expect(isBreach(load("a", { allocatedKw: 100.5 }))).toBe(true);
    expect(isBreach(load("a", { committedMinKw: 101 }))).toBe(true);
    expect(isBreach(load("a", { effectiveCapacityKw: 40, limitKw: 40 }))).toBe(true);
  });

  test("spread is max - min of demand over capacity", () => {
    expect(spreadOf([load("a", { demandKw: 50 }), load("b", { demandKw: 80 })])).toBeCloseTo(0.3, 9);
    expect(spreadOf([load("a")])).toBe(0);
  });

  test("peaks and breaches accumulate over samples", async () => {
    const samples = [
      [load("a", { utilization: 0.4 })],
      [load("a", { utilization: 0.9, allocatedKw: 120 })],
      [load("a")],
    ];
    const watcher = new GridWatcher(async () => samples.shift() ?? [load("a")], 1);
    watcher.start();
    await Bun.sleep(30);
    const watch = await watcher.stop();
    expect(watch.substations[0]).toMatchObject({ substationId: "a", peakUtilization: 0.9, breaches: 1 });
    expect(watch.breaches).toBe(1);
  });
});

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

describe("bun run bench --quick", () => {
  test(
    "runs every measurement and reports correctness: no failed request, no breach, even burst",
    async () => {
      const proc = Bun.spawn([process.execPath, "run", "bench", "--quick", "--json", "--no-write"], {
        cwd: repoRoot,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(0);
      const r = JSON.parse(out.slice(out.indexOf("{")));
      for (const run of [r.bareChain, ...Object.values(r.system)] as {
        perS: number;
        notOk: number;
        requests: number;
      }[]) {
        expect(run.perS).toBeGreaterThan(0);
        // With ample capacity nothing is refused; on a loaded 2-core CI box a call can still exceed its 1 s
        // timeout while 32 substation processes start (typed 503, never a wrong answer): allow 0.5 %.
        expect(run.notOk).toBeLessThanOrEqual(Math.max(1, run.requests * 0.005));
      }
      expect(r.tracesExported.exports).toBeGreaterThan(0);
      expect(r.burst).toMatchObject({ requests: 400, admitted: 400, breaches: 0 });
      expect(r.burst.loadSpread).toBeLessThanOrEqual(r.burst.spreadBound + 1e-9);
      expect(r.targets.length).toBeGreaterThanOrEqual(8);
    },
    { timeout: 240_000 },
  );
});
