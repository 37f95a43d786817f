/**
 * The compose stack cannot run on this machine (no Docker engine, no collector, Tempo or Grafana binary),
 * so its configs are checked the way a reviewer would: they parse, validate where a validator exists
 * (docker-compose, promtool), and refer to each other consistently. Grafana's provisioning: grafana.e2e.test.ts.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { readYaml, repoRoot } from "@evgrid/testing";

setDefaultTimeout(30_000);

// biome-ignore lint/suspicious/noExplicitAny: configs are checked structurally, field by field.
type Yaml = any;

const compose: Yaml = await readYaml("compose.yaml");
const collector: Yaml = await readYaml("otel/collector.yaml");
const tempo: Yaml = await readYaml("otel/tempo.yaml");
const prometheus: Yaml = await readYaml("otel/prometheus.yaml");
const dotEnv = Object.fromEntries(
  (await Bun.file(resolve(repoRoot, ".env")).text())
    .split("\n")
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => l.split("=", 2) as [string, string]),
);

const APPS = [
  "substation-1",
  "substation-2",
  "substation-3",
  "balancer-1",
  "balancer-2",
  "charge-api",
  "ocpp-gateway",
];
/** The service an app's telemetry is named after: replicas share it. */
const serviceOf = (app: string) => app.replace(/-\d+$/, "");
const envOf = (service: string): Record<string, string> => compose.services[service].environment;

/** Runs a command, failing (never skipping) when the tool is missing: CI installs it. */
async function run(cmd: string[], cwd = repoRoot, env: Record<string, string | undefined> = {}) {
  if (!Bun.which(cmd[0] as string)) {
    throw new Error(
      `${cmd[0]} is not installed: apt-get install -y ${cmd[0] === "docker-compose" ? "docker-compose" : "prometheus"}`,
    );
  }
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: stdout + stderr };
}

describe("compose.yaml", () => {
  test("validates against the Compose schema (docker-compose config)", async () => {
    // docker-compose 1.x predates the top-level `name:` key; the rest is checked as written.
    const withoutName = (await Bun.file(resolve(repoRoot, "compose.yaml")).text()).replace(/^name: .*$/m, "");
    const tmp = resolve(repoRoot, "node_modules/.compose-check.yaml");
    await Bun.write(tmp, withoutName);
    // The secrets compose takes from the operator's shell (test/security/secrets.e2e.test.ts: none has a default).
    const secrets = {
      SERVICE_TOKEN: "compose-check-token-0123456789abcdef",
      GRAFANA_ADMIN_PASSWORD: "check",
      VALKEY_PASSWORD: "0123abcd",
    };
    const check = ["docker-compose", "-f", tmp, "--project-directory", repoRoot, "config", "-q"];
    const { code, output } = await run(check, repoRoot, secrets);
    expect({ code, output }).toEqual({ code: 0, output: "" });
    // Valkey is closed: without its password compose refuses to start, and says what to set.
    const open = await run(check, repoRoot, { ...secrets, VALKEY_PASSWORD: undefined });
    expect(open.code).not.toBe(0);
    expect(open.output).toContain("set VALKEY_PASSWORD (openssl rand -hex 24)");
  });

  test("runs every app, three substations of mixed capacity, and the whole telemetry stack", () => {
    expect(Object.keys(compose.services).toSorted()).toEqual(
      [
        ...APPS,
        "valkey",
        "otel-collector",
        "prometheus",
        "alertmanager",
        "loki",
        "tempo",
        "grafana",
        "k6",
      ].toSorted(),
    );
    const capacities = ["substation-1", "substation-2", "substation-3"].map((s) =>
      Number(envOf(s).SUBSTATION_CAPACITY_KW),
    );
    expect(new Set(capacities).size).toBe(3);
  });

  test("k6 runs only in the `load` profile, against charge-api, writing its metrics to Prometheus", () => {
    const k6 = compose.services.k6;
    expect(k6.profiles).toEqual(["load"]);
    expect(k6.environment.BASE_URL).toBe(`http://charge-api:${envOf("charge-api").PORT}`);
    expect(k6.environment.K6_PROMETHEUS_RW_SERVER_URL).toBe("http://prometheus:9090/api/v1/write");
    expect(k6.command).toEqual(["run", "-o", "experimental-prometheus-rw", "/scripts/charge.ts"]);
    expect(k6.volumes).toContain("./apps/load-tester/k6:/scripts:ro");
    expect(existsSync(resolve(repoRoot, "apps/load-tester/k6/charge.ts"))).toBe(true);
  });

  test("publishes only charge-api, the OCPP endpoint, Grafana, Prometheus, Alertmanager and OTLP/HTTP", () => {
    const published = Object.entries(compose.services)
      .filter(([, s]: [string, Yaml]) => s.ports?.length)
      .map(([name]) => name);
    expect(published.toSorted()).toEqual([
      "alertmanager",
      "charge-api",
      "grafana",
      "ocpp-gateway",
      "otel-collector",
      "prometheus",
    ]);
    // The README's `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 bun run dev` reaches the collector.
    const otlpHttp = collector.receivers.otlp.protocols.http.endpoint.split(":")[1];
    expect(compose.services["otel-collector"].ports).toEqual([`127.0.0.1:4318:${otlpHttp}`]);
    // Of the gateway, only where charge points connect: its admin port stays inside.
    expect(compose.services["ocpp-gateway"].ports).toEqual([
      `127.0.0.1:8180:${envOf("ocpp-gateway").OCPP_PORT}`,
    ]);
  });

  test("has a healthcheck on every service whose image can run one, and waits on it", () => {
    // The collector image is built FROM scratch: no shell or HTTP client to run a check with. (Tempo's is
    // Alpine-based and has wget.)
    const distroless = new Set(["otel-collector"]);
    for (const [name, service] of Object.entries(compose.services) as [string, Yaml][]) {
      // One-shot jobs behind a profile (k6) run to completion; there is nothing to keep healthy.
      if (!distroless.has(name) && !service.profiles)
        expect({ name, healthcheck: Boolean(service.healthcheck?.test) }).toEqual({
          name,
          healthcheck: true,
        });
      for (const [dep, cond] of Object.entries(service.depends_on ?? {}) as [string, Yaml][]) {
        const expected = distroless.has(dep) ? "service_started" : "service_healthy";
        expect({ name, dep, condition: cond.condition }).toEqual({ name, dep, condition: expected });
      }
    }
  });

  test("pins every image version in .env, and every mounted file exists", () => {
    for (const [name, service] of Object.entries(compose.services) as [string, Yaml][]) {
      const image: string = service.image;
      if (image === "evgrid-app:local") continue;
      const variable = /\$\{([A-Z0-9_]+)\}$/.exec(image)?.[1];
      expect({ name, pinned: variable !== undefined && dotEnv[variable] !== undefined }).toEqual({
        name,
        pinned: true,
      });
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(":")[0] as string;
        if (source.startsWith("./"))
          expect({ name, source, exists: existsSync(resolve(repoRoot, source)) }).toEqual({
            name,
            source,
            exists: true,
          });
      }
    }
    expect(existsSync(resolve(repoRoot, compose["x-app"].build.dockerfile))).toBe(true);
    const named = Object.values(compose.services).flatMap((s: Yaml) =>
      (s.volumes ?? []).map((v: string) => v.split(":")[0]).filter((v: string) => !v.startsWith(".")),
    );
    expect([...new Set(named)].toSorted()).toEqual(Object.keys(compose.volumes).toSorted());
  });

  test("wires the apps to each other and to the collector by service name and port", () => {
    const urlOf = (service: string) => `http://${service}:${envOf(service).PORT}`;
    for (const replica of ["balancer-1", "balancer-2"]) {
      expect(envOf(replica).SUBSTATION_URLS?.split(",")).toEqual(
        ["substation-1", "substation-2", "substation-3"].map(urlOf),
      );
      // Both replicas share one store, and it is the compose valkey service.
      expect(envOf(replica).REDIS_URL).toBe("redis://valkey:6379");
    }
    for (const caller of ["charge-api", "ocpp-gateway"])
      expect(envOf(caller).BALANCER_URLS?.split(",")).toEqual(["balancer-1", "balancer-2"].map(urlOf));
    const otlpHttp = collector.receivers.otlp.protocols.http.endpoint.split(":")[1];
    for (const app of APPS) {
      expect(envOf(app).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://otel-collector:${otlpHttp}`);
      expect(envOf(app).HOST).toBe("0.0.0.0");
      expect(envOf(app).OTEL_SERVICE_NAME).toBe(app === "ocpp-gateway" ? app : serviceOf(app));
    }
  });
});

describe("collector, Tempo and Prometheus configs", () => {
  test("the collector scrapes exactly the apps compose runs, under jobs named after their services", () => {
    const jobs = collector.receivers.prometheus.config.scrape_configs as Yaml[];
    const targets = Object.fromEntries(
      jobs.map((j) => [j.job_name, j.static_configs.flatMap((s: Yaml) => s.targets)]),
    );
    expect(targets).toEqual({
      "charge-api": [`charge-api:${envOf("charge-api").PORT}`],
      balancer: ["balancer-1", "balancer-2"].map((b) => `${b}:${envOf(b).PORT}`),
      "ocpp-gateway": [`ocpp-gateway:${envOf("ocpp-gateway").PORT}`],
      substation: ["substation-1", "substation-2", "substation-3"].map((s) => `${s}:${envOf(s).PORT}`),
    });
    // Job names are the services' OTEL_SERVICE_NAME, so Tempo's service.name and Prometheus' job agree.
    for (const app of APPS) expect(Object.keys(targets)).toContain(envOf(app).OTEL_SERVICE_NAME as string);
  });

  test("the collector sends traces to Tempo's OTLP receiver and metrics to Prometheus' remote-write receiver", () => {
    const tempoGrpc = tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(":")[1];
    expect(collector.exporters["otlp/tempo"].endpoint).toBe(`tempo:${tempoGrpc}`);
    expect(collector.exporters.prometheusremotewrite.endpoint).toBe("http://prometheus:9090/api/v1/write");
    expect(compose.services.prometheus.command).toContain("--web.enable-remote-write-receiver");
    for (const pipeline of Object.values(collector.service.pipelines) as Yaml[]) {
      expect(pipeline.processors[0]).toBe("memory_limiter");
      expect(pipeline.processors).toContain("batch");
      for (const r of pipeline.receivers) expect(Object.keys(collector.receivers)).toContain(r);
      for (const e of pipeline.exporters) expect(Object.keys(collector.exporters)).toContain(e);
    }
  });

  test("Tempo listens on all interfaces and remote-writes span metrics with exemplars to Prometheus", () => {
    for (const p of Object.values(tempo.distributor.receivers.otlp.protocols) as Yaml[]) {
      expect(p.endpoint).toStartWith("0.0.0.0:");
    }
    const [rw] = tempo.metrics_generator.storage.remote_write;
    expect(rw).toEqual({ url: "http://prometheus:9090/api/v1/write", send_exemplars: true });
    expect(compose.services.prometheus.command).toContain("--enable-feature=exemplar-storage");
    expect(tempo.overrides.defaults.metrics_generator.processors).toEqual(["service-graphs", "span-metrics"]);
  });

  test("Prometheus scrapes the collector's and Tempo's own metrics on the ports they serve", () => {
    const targets = (prometheus.scrape_configs as Yaml[]).flatMap((j) =>
      j.static_configs.flatMap((s: Yaml) => s.targets),
    );
    const collectorPort = collector.service.telemetry.metrics.readers[0].pull.exporter.prometheus.port;
    expect(targets).toContain(`otel-collector:${collectorPort}`);
    expect(targets).toContain(`tempo:${tempo.server.http_listen_port}`);
    expect(prometheus.rule_files).toEqual(["alerts.yaml"]);
    const mounts: string[] = compose.services.prometheus.volumes;
    expect(mounts).toContain("./otel/alerts.yaml:/etc/prometheus/alerts.yaml:ro");
  });

  test("every key of the collector config has a comment above it saying why (house style)", async () => {
    const lines = (await Bun.file(resolve(repoRoot, "otel/collector.yaml")).text()).split("\n");
    const bare = lines.filter((l, i) => /^\s*(- )?[\w/]+:/.test(l) && !lines[i - 1]?.trim().startsWith("#"));
    expect(bare).toEqual([]);
  });

  test("promtool check config and promtool test rules pass", async () => {
    const check = await run(["promtool", "check", "config", "prometheus.yaml"], resolve(repoRoot, "otel"));
    expect(check.output).toContain("SUCCESS");
    expect(check.code).toBe(0);
    const rules = await run(["promtool", "test", "rules", "alerts.test.yaml"], resolve(repoRoot, "otel"));
    expect(rules.output).toContain("SUCCESS");
    expect(rules.code).toBe(0);
  });
});
