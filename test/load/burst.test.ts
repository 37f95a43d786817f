/**
 * 500 concurrent requests against 3 substations of mixed capacity, with every piece a real OS process:
 * the grid from `bun run dev`, the load from the client script. (Bun's test runner keeps its own fetch pool
 * at 256 in flight, so the load must come from a separate process to be really concurrent.)
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { SubstationLoad } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { runClient, startDev } from "@evgrid/testing";

setDefaultTimeout(90_000);

interface ClientReport {
  summary: { admitted: number; failed: number; byReason: Record<string, number> };
}

async function burst(capacitiesKw: number[]) {
  const dev = await startDev(["--random-ports", "--no-quotas", "--capacities", capacitiesKw.join(",")]);
  const substations = Object.entries(dev.urls.substations).map(([id, url]) => ({
    id,
    capacityKw: capacitiesKw[Number(id.split("-")[1]) - 1] as number,
    client: internalClient<SubstationRouter>(url, { timeoutMs: 5000, token: dev.urls.serviceToken }),
  }));
  // Sample every substation's own account of its load for as long as the burst runs.
  const peaks = new Map(substations.map((s) => [s.id, { allocatedKw: 0, committedMinKw: 0, samples: 0 }]));
  let running = true;
  const sampler = (async () => {
    while (running) {
      await Promise.all(
        substations.map(async (s) => {
          const load = await s.client.getLoad.query();
          const peak = peaks.get(s.id) as { allocatedKw: number; committedMinKw: number; samples: number };
          peak.allocatedKw = Math.max(peak.allocatedKw, load.allocatedKw);
          peak.committedMinKw = Math.max(peak.committedMinKw, load.committedMinKw);
          peak.samples += 1;
        }),
      );
    }
  })();
  const client = await runClient(
    ["--url", dev.urls.chargeApi, "--count", "500", "--concurrency", "500", "--interval", "0"].concat([
      "--duration-s",
      "120",
      "--json",
    ]),
    { BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
  );
  running = false;
  await sampler;
  // Per-session allocations as the substations hold them at the end.
  const finals = await Promise.all(
    substations.map(async (s) => {
      const { sessions, load } = await s.client.listSessions.query({ status: "active", limit: 10_000 });
      return { ...s, load, sessionsKw: sessions.reduce((acc, x) => acc + x.allocatedKw, 0) };
    }),
  );
  return { dev, client, report: JSON.parse(client.stdout) as ClientReport, peaks, finals };
}

const breaches = (
  peaks: Map<string, { allocatedKw: number; committedMinKw: number }>,
  finals: { id: string; capacityKw: number; sessionsKw: number }[],
) =>
  finals.filter((f) => {
    const p = peaks.get(f.id);
    const over = (kw: number) => kw > f.capacityKw + 1e-6;
    return !p || over(p.allocatedKw) || over(p.committedMinKw) || over(f.sessionsKw);
  });

describe("500 concurrent requests, 3 substations of mixed capacity, real processes", () => {
  test("overloaded: no capacity is ever exceeded and every minimum that fits is used", async () => {
    const capacities = [200, 120, 80];
    const { dev, client, report, peaks, finals } = await burst(capacities);
    await using _ = dev;
    // Exit 1 means some request failed other than "grid full": say which, not just that.
    expect({ code: client.code, failures: report.summary.byReason }).toMatchObject({ code: 0 });
    expect(breaches(peaks, finals)).toEqual([]);
    // 4.2 kW minimums: 47 + 28 + 19 fit. The grid fills exactly; the rest are typed refusals.
    const fit = capacities.reduce((acc, c) => acc + Math.floor(c / 4.2 + 1e-9), 0);
    expect(report.summary.admitted).toBe(fit);
    expect(report.summary.byReason).toEqual({ GRID_FULL: 500 - fit });
    const samples = [...peaks.values()].map((p) => p.samples);
    console.log(
      `overloaded [200,120,80] kW: admitted ${report.summary.admitted}/500, GRID_FULL ${500 - fit}, ` +
        `capacity breaches 0 (${Math.min(...samples)}+ samples per substation)`,
    );
  });

  test("within capacity: all admitted, utilization spread within one request's share of the smallest site", async () => {
    // 500 × 11 kW = 5,500 kW asked of 6,000 kW: nobody is refused and all sites should end equally loaded.
    const capacities = [3000, 1800, 1200];
    const { dev, client, report, peaks, finals } = await burst(capacities);
    await using _ = dev;
    // Exit 1 means some request failed other than "grid full": say which, not just that.
    expect({ code: client.code, failures: report.summary.byReason }).toMatchObject({ code: 0 });
    expect(report.summary.admitted).toBe(500);
    expect(breaches(peaks, finals)).toEqual([]);
    const loads: SubstationLoad[] = finals.map((f) => f.load);
    const ratios = loads.map((l) => l.demandKw / l.effectiveCapacityKw);
    const spread = Math.max(...ratios) - Math.min(...ratios);
    const bound = 11 / Math.min(...capacities);
    console.log(
      `within capacity [3000,1800,1200] kW: sessions ${loads.map((l) => l.activeSessions).join("/")}, ` +
        `demand/capacity ${ratios.map((r) => r.toFixed(4)).join("/")}, spread ${spread.toFixed(4)} (bound ${bound.toFixed(4)})`,
    );
    expect(spread).toBeLessThanOrEqual(bound + 1e-9);
  });
});
