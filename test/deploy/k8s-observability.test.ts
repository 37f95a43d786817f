/**
 * deploy/k8s, every overlay: every Service that a config (env, args, ConfigMap) points at is in the same
 * build with that port, and the observability overlay carries the repo's own alert rules and dashboards.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { repoRoot, tempDir } from "@evgrid/testing";
import { type Build, builds, containersOf, envOf, type K8s, kinds, named, workloadsOf } from "./manifests.ts";

/** host:port an endpoint names: URLs, `endpoint: host:port`, and Prometheus targets. */
const ENDPOINTS = [
  /\b[a-z][a-z0-9+.-]*:\/\/([a-z0-9$()_.-]+):(\d+)/gi,
  /\bendpoint:\s*"?([a-z][a-z0-9.-]*):(\d+)/gi,
  /"([a-z][a-z0-9.-]*):(\d+)"/gi,
];
const LOCAL = /^(localhost|0\.0\.0\.0|127\.0\.0\.1|\d+\.\d+\.\d+\.\d+)$/;

/** Every host:port the build's configs name, with where it was found. */
function endpointsOf(b: Build): { where: string; host: string; port: number }[] {
  const texts: { where: string; text: string }[] = [];
  for (const cm of kinds(b, "ConfigMap"))
    for (const [key, text] of Object.entries(cm.data ?? {}))
      texts.push({ where: `ConfigMap/${cm.metadata.name}/${key}`, text: String(text) });
  for (const w of workloadsOf(b))
    for (const c of containersOf(w)) {
      const where = `${w.metadata.name}/${c.name}`;
      texts.push({ where, text: Object.values(envOf(w, c)).join("\n") });
      texts.push({ where, text: [...(c.args ?? []), ...(c.command ?? [])].join("\n") });
    }
  const found = texts.flatMap(({ where, text }) =>
    ENDPOINTS.flatMap((re) =>
      [...text.matchAll(re)].map((m) => ({ where, host: m[1] as string, port: Number(m[2]) })),
    ),
  );
  return found.filter((e) => !LOCAL.test(e.host));
}

/** Whether `host:port` reaches something in the build: a Service's port, or a StatefulSet pod's own name. */
function resolves(b: Build, host: string, port: number): boolean {
  const [first, second] = host.replace(/\.svc(\.cluster\.local)?$/, "").split(".");
  const svc = named(b, "Service", first as string);
  if (svc) return svc.spec.ports.some((p: K8s) => p.port === port);
  // <pod>.<headless service>: a StatefulSet's pod by its stable name.
  const sts = kinds(b, "StatefulSet").find(
    (s) => s.spec.serviceName === second && (first as string).startsWith(`${s.metadata.name}-`),
  );
  return Boolean(
    sts &&
      named(b, "Service", second as string) &&
      sts.spec.template.spec.containers.some((c: K8s) => c.ports.some((p: K8s) => p.containerPort === port)),
  );
}

const observability = builds.find((b) => b.overlay === "observability") as Build;
const configMap = (prefix: string) =>
  kinds(observability, "ConfigMap").find((cm) => cm.metadata.name.replace(/-[a-z0-9]{10}$/, "") === prefix);

describe("deploy/k8s telemetry", () => {
  test("every Service a config points at exists in the same build, with that port", () => {
    for (const b of builds) {
      const endpoints = endpointsOf(b);
      expect(endpoints.length).toBeGreaterThan(3);
      for (const e of endpoints)
        expect({ overlay: b.overlay, ...e, resolves: resolves(b, e.host, e.port) }).toEqual({
          overlay: b.overlay,
          ...e,
          resolves: true,
        });
    }
  });

  test("the observability overlay: collector to Tempo, Loki and Prometheus, alerts to Alertmanager, apps traced", () => {
    const hosts = new Set(endpointsOf(observability).map((e) => `${e.host}:${e.port}`));
    for (const needed of [
      "tempo:4317",
      "loki:3100",
      "prometheus:9090",
      "alertmanager:9093",
      "otel-collector:4318",
    ])
      expect({ needed, found: hosts.has(needed) }).toEqual({ needed, found: true });
    for (const name of ["otel-collector", "prometheus", "alertmanager", "tempo", "loki", "grafana"])
      expect({ name, found: Boolean(named(observability, "Deployment", name)) }).toEqual({
        name,
        found: true,
      });
  });

  test("log lines: every app exports them by OTLP, the collector's logs pipeline ends in Loki, as in compose", async () => {
    // The apps are the workloads that export traces to the collector.
    const apps = workloadsOf(observability)
      .map((w) => ({ app: w.metadata.name as string, env: envOf(w, containersOf(w)[0] as K8s) }))
      .filter(({ env }) => env.OTEL_EXPORTER_OTLP_ENDPOINT);
    expect(apps.map((a) => a.app).sort()).toEqual(["balancer", "charge-api", "ocpp-gateway", "substation"]);
    for (const { app, env } of apps)
      expect({ app, logs: env.OTEL_LOGS_EXPORTER }).toEqual({ app, logs: "otlp" });
    const overlay = Bun.YAML.parse(configMap("otel-collector").data["collector.yaml"]) as K8s;
    const compose = Bun.YAML.parse(await Bun.file(`${repoRoot}/otel/collector.yaml`).text()) as K8s;
    const logs = overlay.service.pipelines.logs;
    expect(logs).toEqual(compose.service.pipelines.logs);
    for (const e of logs.exporters) expect(overlay.exporters[e]).toEqual(compose.exporters[e]);
    const loki = configMap("loki").data["loki.yaml"];
    expect(loki).toBe(await Bun.file(`${repoRoot}/otel/loki.yaml`).text());
  });

  test("Prometheus loads otel/alerts.yaml as it is in the repo, from where the rules are mounted", async () => {
    const rules = configMap("prometheus-rules");
    expect(rules.data["alerts.yaml"]).toBe(await Bun.file(`${repoRoot}/otel/alerts.yaml`).text());
    const config = Bun.YAML.parse(configMap("prometheus").data["prometheus.yaml"]) as K8s;
    const c = named(observability, "Deployment", "prometheus").spec.template.spec.containers[0];
    const pod = named(observability, "Deployment", "prometheus").spec.template.spec;
    const volume = pod.volumes.find((v: K8s) => v.configMap?.name === rules.metadata.name);
    const mount = c.volumeMounts.find((m: K8s) => m.name === volume.name);
    expect(config.rule_files).toEqual([`${mount.mountPath}/alerts.yaml`]);
  });

  test("Grafana gets every dashboard of grafana/dashboards, as it is in the repo", async () => {
    const files = readdirSync(`${repoRoot}/grafana/dashboards`).filter((f) => f.endsWith(".json"));
    const data = configMap("grafana-dashboards").data;
    expect(Object.keys(data).sort()).toEqual(files.sort());
    for (const f of files) expect(data[f]).toBe(await Bun.file(`${repoRoot}/grafana/dashboards/${f}`).text());
  });

  // Debian's prometheus and prometheus-alertmanager packages bring these (scripts/test.sh installs them):
  // missing, the test fails rather than skips.
  test("Prometheus' and Alertmanager's configs, rules included, are what promtool and amtool accept", async () => {
    using dir = tempDir("k8s-prometheus-");
    const config = configMap("prometheus").data["prometheus.yaml"] as string;
    await Bun.write(`${dir.path}/rules/alerts.yaml`, configMap("prometheus-rules").data["alerts.yaml"]);
    await Bun.write(
      `${dir.path}/prometheus.yaml`,
      config.replace("/etc/prometheus/rules/", `${dir.path}/rules/`),
    );
    await Bun.write(`${dir.path}/alertmanager.yaml`, configMap("alertmanager").data["alertmanager.yaml"]);
    for (const cmd of [
      ["promtool", "check", "config", `${dir.path}/prometheus.yaml`],
      ["amtool", "check-config", `${dir.path}/alertmanager.yaml`],
    ]) {
      const run = Bun.spawnSync(cmd);
      const out = `${run.stdout}${run.stderr}`;
      expect({ cmd: cmd[0], code: run.exitCode, out }).toMatchObject({ cmd: cmd[0], code: 0 });
    }
  });
});
