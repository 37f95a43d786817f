/**
 * With OTEL_METRICS_EXPORTER=otlp an app's metrics are pushed, and its /metrics serves no samples: the
 * collector both scrapes every app and receives OTLP, so serving both would add every counter up twice.
 */
import { expect, test } from "bun:test";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { eventually, startOtlpSink } from "@evgrid/testing";

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
