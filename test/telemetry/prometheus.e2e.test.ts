/**
 * A real Prometheus scrapes the running apps with the very scrape jobs the collector uses in compose
 * (otel/collector.yaml), re-targeted to loopback; then every PromQL expression of every provisioned
 * dashboard panel and alert rule must return data. Prometheus comes from Debian (`apt-get install -y
 * prometheus`); without it this test fails, it never skips.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  alertRules,
  dashboardQueries,
  readYaml,
  repoRoot,
  runClient,
  SimulatedChargePoint,
  startDev,
  startOnFreePort,
  substituteGrafanaVariables,
} from "@evgrid/testing";

setDefaultTimeout(120_000);

interface ScrapeJob {
  job_name: string;
  static_configs: { targets: string[] }[];
}
interface PromResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  error?: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startPrometheus(scrapeConfigs: ScrapeJob[]) {
  if (!Bun.which("prometheus")) {
    throw new Error("prometheus is not installed; on Debian/Ubuntu: apt-get install -y prometheus");
  }
  const dir = mkdtempSync(join(tmpdir(), "evgrid-prometheus-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = {
    // Faster than the stack's 5 s so the test needs seconds, not minutes, of data.
    global: { scrape_interval: "1s", evaluation_interval: "1s" },
    rule_files: [resolve(repoRoot, "otel/alerts.yaml")],
    scrape_configs: scrapeConfigs,
  };
  // JSON is YAML: the config is written as JSON.
  await Bun.write(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  // A port found free can be taken before Prometheus binds it (another process, on a busy machine): then
  // another port.
  const url = await startOnFreePort(async (port) => {
    const proc = Bun.spawn(
      [
        "prometheus",
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    cleanups.push(async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return url;
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`prometheus did not start: ${await new Response(proc.stderr).text()}`);
      }
      await Bun.sleep(200);
    }
  });
  return {
    url,
    async query(expr: string): Promise<PromResult> {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return (await res.json()) as PromResult;
    },
  };
}

/** True when the expression returns at least one sample with a finite value. */
const hasData = (r: PromResult) =>
  r.status === "success" && r.data.result.some((s) => Number.isFinite(Number(s.value[1])));

async function untilAllHaveData(
  prom: Awaited<ReturnType<typeof startPrometheus>>,
  exprs: { name: string; expr: string }[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let empty = exprs;
  while (empty.length > 0 && Date.now() < deadline) {
    const results = await Promise.all(empty.map(async (e) => ({ e, r: await prom.query(e.expr) })));
    for (const { e, r } of results)
      if (r.status !== "success") throw new Error(`${e.name}: ${r.error}\n${e.expr}`);
    empty = results.filter(({ r }) => !hasData(r)).map(({ e }) => e);
    if (empty.length > 0) await Bun.sleep(500);
  }
  return empty.map((e) => `${e.name}: ${e.expr}`);
}

describe("dashboards and alerts against a real Prometheus", () => {
  test("every panel query and alert expression returns data", async () => {
    // The grid compose runs: three substations, small enough to fill up.
    const dev = await startDev(
      [
        "--random-ports",
        "--no-quotas",
        "--keep-going",
        "--capacities",
        "60,40,20",
        "--chargers",
        "1",
        // Two balancer replicas sharing a redis-server, as compose runs them.
        "--balancers",
        "2",
        "--redis",
      ],
      { env: { REDIS_URL: "" } },
    );
    cleanups.push(() => dev[Symbol.asyncDispose]());
    const hostOf: Record<string, string> = {
      "charge-api": new URL(dev.urls.chargeApi).host,
      ...Object.fromEntries(dev.urls.balancers.map((url, i) => [`balancer-${i + 1}`, new URL(url).host])),
      "ocpp-gateway": new URL(dev.urls.gateway).host,
      ...Object.fromEntries(Object.entries(dev.urls.substations).map(([id, url]) => [id, new URL(url).host])),
    };

    // The collector's scrape jobs, unchanged but for addresses (compose service name -> loopback).
    const collector = await readYaml<{
      receivers: { prometheus: { config: { scrape_configs: ScrapeJob[] } } };
    }>("otel/collector.yaml");
    const jobs = collector.receivers.prometheus.config.scrape_configs.map((job) => ({
      ...job,
      scrape_interval: "1s",
      static_configs: job.static_configs.map((sc) => ({
        targets: sc.targets.map((t) => {
          const service = t.split(":")[0] as string;
          if (!hostOf[service]) throw new Error(`collector scrapes ${t}, which the dev grid does not run`);
          return hostOf[service];
        }),
      })),
    }));
    const prom = await startPrometheus(jobs);

    // A charger per substation, each charging a vehicle and metering it: every re-share below pushes them
    // profiles (the OCPP row's rates and push latency), and one draws little enough to be reclaimed.
    expect(dev.urls.chargers).toHaveLength(3);
    const chargers = await Promise.all(
      dev.urls.chargers.map(async (c, i) => {
        const cp = new SimulatedChargePoint({
          url: dev.urls.ocpp,
          id: c.id,
          password: c.password,
          protocol: i % 2 ? "ocpp2.0.1" : "ocpp1.6",
        });
        await cp.connect();
        await cp.startTransaction(1, `ev-plugged-${i}`);
        return cp;
      }),
    );
    cleanups.push(async () => {
      await Promise.all(chargers.map((c) => c.close()));
    });
    // A charge point nobody registered is refused: the refused-connections panel has its sample.
    const stranger = new WebSocket(`${dev.urls.ocpp}/cp-nobody`, ["ocpp1.6"]);
    await new Promise((resolve) => {
      stranger.onerror = resolve;
      stranger.onclose = resolve;
    });
    // Vehicles come and go at the chargers all the time: each new transaction is admitted (or waits at 0 W
    // on a full grid) and gets a profile, so profile rates and push latency have recent samples.
    let plugged = 0;
    const metering = setInterval(() => {
      for (const [i, cp] of chargers.entries()) {
        void (async () => {
          await cp.meter(1, { powerW: 2000 });
          await cp.stopTransaction(1);
          await cp.startTransaction(1, `ev-plugged-${i}-${++plugged}`);
        })().catch(() => {});
      }
    }, 1000);
    cleanups.push(() => clearInterval(metering));

    // Fill the grid (120 kW of 4.2 kW minimums = 27 sessions) and keep requests coming, so rates,
    // refusals and latency histograms all have recent samples.
    const fill = await runClient([
      "--url",
      dev.urls.chargeApi,
      "--count",
      "60",
      "--concurrency",
      "10",
      "--interval",
      "0",
      "--duration-s",
      "300",
    ]);
    expect(fill.code).toBe(0);
    // Refusals keep coming for the alert windows (8 s: 40 requests, one each 0.2 s) while Prometheus fills in.
    const trickle = runClient([
      "--url",
      dev.urls.chargeApi,
      "--count",
      "40",
      "--interval",
      "0.2",
      "--duration-s",
      "300",
    ]);

    const rules = await alertRules();
    const saturated = [
      ...(await dashboardQueries())
        .filter((q) => q.datasourceUid === "prometheus")
        // Tempo's span metrics need Tempo, which cannot run here; the stack test checks their names.
        .filter((q) => !q.expr.includes("traces_spanmetrics_"))
        .map((q) => ({ name: `${q.dashboard} / ${q.panel}`, expr: substituteGrafanaVariables(q.expr) })),
      // With every substation full, these alert conditions hold.
      ...rules
        .filter(
          (r) =>
            ![
              "NoHealthySubstation",
              "SubstationJournalFailing",
              "BalancerStateStoreDown",
              "BalancerStateStoreForgot",
              "BalancerStateStoreEvicts",
              "OcppStopsPending",
              // A caught charger needs a hostile one (test/grid/ocpp-stray-draw.test.ts, its promtool test).
              "OcppChargerCaught",
              // Apps down or unscraped: the substations stop below; the rest is alertmanager.e2e's.
              "AppDown",
              "AppNotScraped",
              "TelemetryCollectorDown",
            ].includes(r.alert),
        )
        .map((r) => ({ name: `alert ${r.alert}`, expr: r.expr.replaceAll("[5m]", "[15s]") })),
      // A failing journal needs a full disk (test/substation/full-disk.e2e.test.ts), a store reset a store that
      // forgot (alertmanager.e2e.test.ts), an evicting store its policy (store-evicting.e2e), a stuck stop a grid that refuses it for minutes (its promtool
      // test); here their expressions, without the threshold, must find the series the apps export.
      ...rules
        .filter((r) =>
          [
            "SubstationJournalFailing",
            "BalancerStateStoreForgot",
            "BalancerStateStoreEvicts",
            "OcppStopsPending",
            "OcppChargerCaught",
          ].includes(r.alert),
        )
        .map((r) => ({
          name: `alert ${r.alert} (healthy: 0)`,
          expr: r.expr.replace(/\s*(>\s*0|==\s*1)\s*$/, "").replaceAll("[5m]", "[15s]"),
        })),
    ];
    const emptyWhileFull = await untilAllHaveData(prom, saturated, 30_000);
    expect(emptyWhileFull).toEqual([]);
    await trickle;

    // Then the replicas' shared store goes away: BalancerStateStoreDown's condition holds on both.
    for (const pid of await dev.pidsOf("redis-server")) process.kill(pid, "SIGKILL");
    const storeDown = rules
      .filter((r) => r.alert === "BalancerStateStoreDown")
      .map((r) => ({ name: `alert ${r.alert}`, expr: r.expr }));
    expect(storeDown).toHaveLength(1);
    expect(await untilAllHaveData(prom, storeDown, 20_000)).toEqual([]);

    // Then every substation goes away: the balancer's view empties and NoHealthySubstation's condition holds,
    // and so does AppDown's for the substation job.
    for (const pid of await dev.pidsOf("apps/substation/")) process.kill(pid, "SIGTERM");
    const down = rules
      .filter((r) => r.alert === "NoHealthySubstation" || r.alert === "AppDown")
      .map((r) => ({ name: `alert ${r.alert}`, expr: r.expr }));
    expect(down).toHaveLength(2);
    expect(await untilAllHaveData(prom, down, 20_000)).toEqual([]);

    console.log(
      `real Prometheus: ${saturated.length + down.length + storeDown.length} expressions (${saturated.length - (rules.length - 8)} dashboard queries, ${rules.length} alert rules) all returned data`,
    );
  });
});
