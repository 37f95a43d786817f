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

describe("Grafana provisioning", () => {
  test("datasources: Prometheus links exemplars to Tempo, Tempo has service map, node graph and trace-to-metrics", () => {
    const byUid = Object.fromEntries((datasources.datasources as Yaml[]).map((d) => [d.uid, d]));
    expect(byUid.prometheus.url).toBe("http://prometheus:9090");
    expect(byUid.prometheus.jsonData.exemplarTraceIdDestinations[0].datasourceUid).toBe("tempo");
    expect(byUid.tempo.url).toBe(`http://tempo:${tempo.server.http_listen_port}`);
    expect(byUid.tempo.jsonData.serviceMap.datasourceUid).toBe("prometheus");
    expect(byUid.tempo.jsonData.nodeGraph.enabled).toBe(true);
    expect(byUid.tempo.jsonData.tracesToMetrics.datasourceUid).toBe("prometheus");
  });

  test("the dashboard provider reads the folder compose mounts, and Grafana runs anonymous read-only", () => {
    const path = providers.providers[0].options.path;
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${path}:ro`);
    expect(compose.services.grafana.environment).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: "true",
      GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, interpolated from .env or the shell.
      GF_SECURITY_ADMIN_PASSWORD: "${GRAFANA_ADMIN_PASSWORD}",
    });
  });

  test("dashboards have their stable uids and use only provisioned datasources", async () => {
    const uids = await Promise.all(
      dashboardFiles.map(
        async (f) =>
          ((await Bun.file(resolve(repoRoot, "grafana/dashboards", f)).json()) as { uid: string }).uid,
      ),
    );
    expect(uids).toEqual(["evgrid-grid-overview", "evgrid-dispatch", "evgrid-services-red"]);
    const provisioned = new Set((datasources.datasources as Yaml[]).map((d) => d.uid));
    for (const q of await dashboardQueries()) {
      expect({ panel: q.panel, uid: provisioned.has(q.datasourceUid) }).toEqual({
        panel: q.panel,
        uid: true,
      });
    }
  });

  test("every metric a dashboard panel or alert rule reads is one the apps export", async () => {
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
  });
});
