/**
 * Logs join traces: with OTEL_LOGS_EXPORTER=otlp each log event is also sent by OTLP, stamped with the
 * trace and span of the request it was written in, and the JSON line on stdout carries the same ids.
 */
import { expect, test } from "bun:test";
import { createLogger } from "@evgrid/kit";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { eventually, startOtlpSink } from "@evgrid/testing";

test("a log line written in a span goes out by OTLP with that span's ids, and stdout's JSON has them too", async () => {
  using sink = startOtlpSink();
  const telemetry = startTelemetry({
    service: "charge-api",
    version: "0",
    env: telemetryEnvSchema.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_LOGS_EXPORTER: "otlp",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    }),
  });
  let stdout = "";
  const log = createLogger({
    service: telemetry.serviceName,
    onRecord: telemetry.emitLog,
    sinks: { stdout: (l) => (stdout += l), stderr: (l) => (stdout += l) },
  });
  try {
    const ids = telemetry.tracer.startActiveSpan("requestCharge", (span) => {
      log.info("session admitted", { vehicleId: "ev-1", powerKw: 7.4 });
      span.end();
      return span.spanContext();
    });
    const [record] = await eventually(() => {
      const found = sink.logs.filter((l) => l.body === "session admitted");
      expect(found).toHaveLength(1);
      return found;
    });
    expect(record).toMatchObject({
      service: "charge-api",
      severityText: "INFO",
      traceId: ids.traceId,
      spanId: ids.spanId,
      attributes: { vehicleId: "ev-1", powerKw: 7.4 },
    });
    expect(JSON.parse(stdout)).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
  } finally {
    await telemetry.shutdown();
  }
});

test("without OTEL_LOGS_EXPORTER, logs stay on stdout only", () => {
  const telemetry = startTelemetry({
    service: "charge-api",
    version: "0",
    env: telemetryEnvSchema.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" }),
  });
  expect(telemetry.emitLog).toBeUndefined();
});
