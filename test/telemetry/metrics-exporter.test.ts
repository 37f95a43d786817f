/**
 * With OTEL_METRICS_EXPORTER=otlp an app's metrics are pushed, and its /metrics serves no samples: the
 * collector both scrapes every app and receives OTLP, so serving both would add every counter up twice.
 * With OTEL_METRICS_EXPORTER=none nothing is recorded at all (a no-op meter) and /metrics serves no samples.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { eventually, spawnApp, startOtlpSink, tempDir } from "@evgrid/testing";

const sampleLines = (text: string) => text.split("\n").filter((l) => l.startsWith("evgrid_exporter_test"));

test("pushing by OTLP: the counter goes out by OTLP and /metrics has no sample of it", async () => {
  using sink = startOtlpSink();
  const telemetry = startTelemetry({
    service: "exporter-test",
    version: "0",
    env: telemetryEnvSchema.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_METRIC_EXPORT_INTERVAL: "100",
      OTEL_TRACES_EXPORTER: "none",
    }),
  });
  try {
    telemetry.meter.createCounter("evgrid_exporter_test").add(1);
    await eventually(() => expect(sink.metricPushes()).toBeGreaterThan(0));
    expect(sampleLines(await telemetry.renderMetrics())).toEqual([]);
    expect(telemetry.metricsPushed).toBe(true);
  } finally {
    await telemetry.shutdown();
  }
});

test("by default the counter is served on /metrics and nothing is pushed", async () => {
  using sink = startOtlpSink();
  const telemetry = startTelemetry({
    service: "exporter-test",
    version: "0",
    env: telemetryEnvSchema.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_EXPORTER: "none" }),
  });
  try {
    telemetry.meter.createCounter("evgrid_exporter_test").add(1);
    expect(sampleLines(await telemetry.renderMetrics())).toEqual(["evgrid_exporter_test_total 1"]);
    await telemetry.shutdown();
    expect(sink.metricPushes()).toBe(0);
  } finally {
    await telemetry.shutdown();
  }
});

test("OTEL_METRICS_EXPORTER=none: the meter records nothing and /metrics says metrics are off", async () => {
  const telemetry = startTelemetry({
    service: "exporter-test",
    version: "0",
    env: telemetryEnvSchema.parse({ OTEL_METRICS_EXPORTER: "none", OTEL_TRACES_EXPORTER: "none" }),
  });
  try {
    telemetry.meter.createCounter("evgrid_exporter_test").add(1);
    const page = await telemetry.renderMetrics();
    expect(page.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual([]);
    expect(page).toContain("OTEL_METRICS_EXPORTER=none");
    expect(telemetry.metricsOn).toBe(false);
  } finally {
    await telemetry.shutdown();
  }
});

test("an app started with OTEL_METRICS_EXPORTER=none serves its calls and no samples", async () => {
  using dir = tempDir("evgrid-metrics-off-");
  await using sub = await spawnApp("substation", {
    SERVICE_TOKEN: "metrics-off-test-token-0123456789abcdef",
    SUBSTATION_DB_PATH: join(dir.path, "substation.sqlite"),
    OTEL_METRICS_EXPORTER: "none",
    OTEL_TRACES_EXPORTER: "none",
  });
  const started = await sub.call("startSession", { vehicleId: "off-1", maxKw: 11, durationS: 60 });
  expect(started.status).toBe(200);
  const page = await sub.metrics();
  expect(page.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual([]);
  expect(await sub.stop()).toBe(0);
});
