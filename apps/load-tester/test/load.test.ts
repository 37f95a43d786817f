import { describe, expect, test } from "bun:test";
import type { SubstationLoad } from "@evgrid/contract";
import { eventually } from "@evgrid/testing";
import { runClosed, runOpen } from "../src/load/driver.ts";
import { GridWatcher, isBreach, spreadOf } from "../src/load/grid-watch.ts";
import { RunStats } from "../src/load/stats.ts";

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
        await new Promise((resolve) => setImmediate(resolve)); // a turn of the loop: the others start meanwhile
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
    // Every arrival of the 0.5 s is sent or dropped, however late this machine runs the loop.
    expect(stats.sent + stats.dropped).toBe(100);
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
    let samplesAsked = 0;
    const watcher = new GridWatcher(async () => {
      samplesAsked += 1;
      return samples.shift() ?? [load("a")];
    }, 1);
    watcher.start();
    // Every sample taken (and one more asked for, so the last was counted), not "30 ms passed".
    await eventually(() => expect(samplesAsked).toBeGreaterThanOrEqual(4));
    const watch = await watcher.stop();
    expect(watch.substations[0]).toMatchObject({ substationId: "a", peakUtilization: 0.9, breaches: 1 });
    expect(watch.breaches).toBe(1);
  });
});
