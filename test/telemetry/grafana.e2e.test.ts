/**
 * Grafana's provisioning and dashboards, checked as a reviewer would: data sources link to each other,
 * every panel reads its data source through the dashboard's variable, every metric a panel or rule reads is
 * exported, and every metric exported is on some panel (or allowed off, with the reason).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { resolve } from "node:path";
import {
  alertRules,
  dashboardFiles,
  dashboardQueries,
  eventually,
  exposedMetricNames,
  metricNamesIn,
  readYaml,
  repoRoot,
  startGrid,
  startOcppGateway,
  startRedis,
} from "@evgrid/testing";

setDefaultTimeout(30_000);

// biome-ignore lint/suspicious/noExplicitAny: configs are checked structurally, field by field.
type Yaml = any;

const compose: Yaml = await readYaml("compose.yaml");
const tempo: Yaml = await readYaml("otel/tempo.yaml");
const loki: Yaml = await readYaml("otel/loki.yaml");
const collector: Yaml = await readYaml("otel/collector.yaml");
const datasources: Yaml = await readYaml("grafana/provisioning/datasources/datasources.yaml");
const providers: Yaml = await readYaml("grafana/provisioning/dashboards/dashboards.yaml");

/**
 * Series Tempo's metrics-generator writes to Prometheus (span-metrics and service-graphs processors, Tempo 2.7
 * docs), not the apps: dashboards may read these, and the apps need not export them.
 */
const TEMPO_GENERATED = new Set([
  "traces_spanmetrics_latency_bucket",
  "traces_spanmetrics_latency_count",
  "traces_spanmetrics_latency_sum",
  "traces_spanmetrics_calls_total",
  "traces_service_graph_request_total",
  "traces_service_graph_request_failed_total",
]);
/** Series the scraper itself adds for every target (Prometheus and the collector's receiver alike). */
const SCRAPE_GENERATED = new Set(["up"]);

/** Exported metrics on no panel, each with the reason. */
const OFF_PANELS: Record<string, string> = {
  target_info: "resource attributes (service.version, instance), joined onto series when needed, not plotted",
  evgrid_substation_capacity_watts:
    "nameplate capacity: panels plot the capacity in force (limit included); the $substation variable lists from it",
  evgrid_balancer_wait_pumps_total:
    "passes over the wait queue: what tests wait for (a later event), not an operating signal",
};

/** Every metric the apps export once traffic has made each labelled series appear. */
async function exportedMetrics(): Promise<Set<string>> {
  // A balancer sharing state, as compose runs them: its store gauge exists only then.
  await using redis = await startRedis();
  await using grid = await startGrid({ capacitiesKw: [8.4, 8.4], balancer: { REDIS_URL: redis.url } });
  // Traffic so every histogram and labelled counter has appeared: admissions, a refusal, a stop.
  const a = await grid.client.requestCharge.mutate({ vehicleId: "a", durationS: 60 });
  for (const v of ["b", "c", "d"]) await grid.client.requestCharge.mutate({ vehicleId: v, durationS: 60 });
  await grid.client.requestCharge.mutate({ vehicleId: "e", durationS: 60 }).catch(() => undefined);
  await grid.client.stopCharge.mutate({ sessionId: a.sessionId, sessionSecret: a.sessionSecret });
  // A charger connected to the gateway, with a profile pushed and a refused connection.
  await using ocpp = await startOcppGateway(grid);
  const cp = await ocpp.charger("cp-metrics");
  await cp.startTransaction(1, "ev-metrics");
  await eventually(() => expect(cp.limit(1)).toBeDefined());
  const refused = new WebSocket(`${ocpp.gateway.ocppUrl}/cp-nobody`, ["ocpp1.6"]);
  await new Promise((resolve) => {
    refused.onerror = resolve;
    refused.onclose = resolve;
  });
  const exported = new Set<string>();
  for (const app of [grid.api, grid.balancer, ...grid.substations, ocpp.gateway]) {
    for (const name of exposedMetricNames(await (await fetch(`${app.url}/metrics`)).text()))
      exported.add(name);
  }

  return exported;
}

describe("Grafana provisioning", () => {
  test("datasources: exemplars and log lines open the Trace dashboard, Tempo links spans to metrics and to Loki's logs", () => {
    const byUid = Object.fromEntries((datasources.datasources as Yaml[]).map((d) => [d.uid, d]));
    expect(byUid.prometheus.url).toBe("http://prometheus:9090");
    // A dashboard, not Explore: anonymous Viewers can open the one and not the other.
    const traceLink = "/d/evgrid-trace/trace?var-traceId=$${__value.raw}";
    expect(byUid.prometheus.jsonData.exemplarTraceIdDestinations).toEqual([
      { name: "traceID", url: traceLink, urlDisplayLabel: "Trace and its logs" },
    ]);
    expect(byUid.loki.jsonData.derivedFields).toEqual([expect.objectContaining({ url: traceLink })]);
    expect(byUid.tempo.url).toBe(`http://tempo:${tempo.server.http_listen_port}`);
    expect(byUid.tempo.jsonData.serviceMap.datasourceUid).toBe("prometheus");
    expect(byUid.tempo.jsonData.nodeGraph.enabled).toBe(true);
    expect(byUid.tempo.jsonData.tracesToMetrics.datasourceUid).toBe("prometheus");
    expect(byUid.tempo.jsonData.tracesToLogsV2).toMatchObject({ datasourceUid: "loki", customQuery: true });
    expect(byUid.tempo.jsonData.tracesToLogsV2.query).toContain("trace_id");
    // Loki is the one compose runs, and the collector sends it the logs.
    expect(byUid.loki.url).toBe(`http://loki:${loki.server.http_listen_port}`);
    expect(collector.exporters["otlphttp/loki"].endpoint).toBe(`${byUid.loki.url}/otlp`);
    expect(collector.service.pipelines.logs.exporters).toEqual(["otlphttp/loki"]);
    expect(compose.services.loki.image).toBe(`grafana/loki:\${LOKI_VERSION}`);
  });

  test("the dashboard provider reads the folder compose mounts, and Grafana runs anonymous read-only", () => {
    const path = providers.providers[0].options.path;
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${path}:ro`);
    expect(compose.services.grafana.environment).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: "true",
      GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer",
    });
    // The admin password comes from the operator's shell and has no default (compose refuses without it).
    expect(compose.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toStartWith(
      "${GRAFANA_ADMIN_PASSWORD:?",
    );
  });

  test("dashboards have their stable uids and use only provisioned datasources", async () => {
    const uids = await Promise.all(
      dashboardFiles.map(
        async (f) =>
          ((await Bun.file(resolve(repoRoot, "grafana/dashboards", f)).json()) as { uid: string }).uid,
      ),
    );
    expect(uids).toEqual(["evgrid-grid-overview", "evgrid-dispatch", "evgrid-services-red", "evgrid-trace"]);
    const provisioned = new Set((datasources.datasources as Yaml[]).map((d) => d.uid));
    for (const q of await dashboardQueries()) {
      expect({ panel: q.panel, uid: provisioned.has(q.datasourceUid) }).toEqual({
        panel: q.panel,
        uid: true,
      });
    }
  });

  test("every metric a dashboard panel or alert rule reads is one the apps export", async () => {
    const exported = await exportedMetrics();
    const queries = [
      ...(await dashboardQueries()).filter((q) => q.datasourceUid === "prometheus"),
      ...(await alertRules()).map((r) => ({ dashboard: "alerts", panel: r.alert, expr: r.expr })),
    ];
    expect(queries.length).toBeGreaterThan(20);
    const missing = queries.flatMap((q) =>
      metricNamesIn(q.expr)
        .filter((m) => !exported.has(m) && !TEMPO_GENERATED.has(m) && !SCRAPE_GENERATED.has(m))
        .map((m) => `${q.dashboard} / ${q.panel}: ${m}`),
    );
    expect(missing).toEqual([]);
    // The original system's gauge is still there.
    expect(exported.has("current_load")).toBe(true);

    // And the other way round: what the apps measure is on some panel, or left off for a reason.
    const onPanels = new Set(
      (await dashboardQueries())
        .flatMap((q) => metricNamesIn(q.expr))
        .map((m) => m.replace(/_(bucket|count|sum)$/, "")),
    );
    const off = [...exported]
      .filter((m) => !m.startsWith("#"))
      .map((m) => m.replace(/_(bucket|count|sum)$/, ""))
      .filter((m) => !onPanels.has(m) && !(m in OFF_PANELS));
    expect([...new Set(off)].toSorted()).toEqual([]);
    // The allow-list holds no stale names.
    for (const m of Object.keys(OFF_PANELS))
      expect({ m, exported: exported.has(m) }).toEqual({ m, exported: true });
  });
});
