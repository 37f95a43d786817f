import { z } from "zod";

/**
 * The standard OTEL_* variables this project honours. Read here, once, like every other setting; the SDK
 * would otherwise pick some of them up on its own and ignore others (the 3.x trace SDK reads none).
 */
const otlpProtocol = z.enum(["http/protobuf", "http/json"], {
  error: "http/protobuf or http/json (gRPC is not supported: send to the collector's HTTP receiver)",
});

export const telemetryEnvShape = {
  OTEL_SDK_DISABLED: z.stringbool().default(false),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Base URL of an OTLP/HTTP receiver (the collector): traces go to <url>/v1/traces, metrics to /v1/metrics. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * `prometheus` (default) serves metrics on /metrics (the collector scrapes them); `otlp` pushes them
   * instead and /metrics serves no samples, so the collector never counts them twice; `none` records
   * nothing (a no-op meter: no cost per request) and /metrics serves no samples.
   */
  OTEL_METRICS_EXPORTER: z.enum(["otlp", "none", "prometheus"]).default("prometheus"),
  OTEL_TRACES_EXPORTER: z.enum(["otlp", "none"]).default("otlp"),
  /** `otlp` also sends every log line to <endpoint>/v1/logs (the collector's logs pipeline); stdout keeps them. */
  OTEL_LOGS_EXPORTER: z.enum(["otlp", "none"]).default("none"),
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * How spans are encoded on the wire: `http/protobuf` (default, the OTLP spec's and the cheaper one here,
   * see BENCHMARKS.md) or `http/json`. The traces-only variable wins over the general one.
   */
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum([
      "always_on",
      "always_off",
      "traceidratio",
      "parentbased_always_on",
      "parentbased_always_off",
      "parentbased_traceidratio",
    ])
    .default("parentbased_always_on"),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** Batch span processor: how long spans wait before export, and the queue bound. */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().positive().default(1000),
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().positive().default(4096),
  /** Spans per export request: bigger batches mean fewer requests for the same spans. */
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce.number().int().positive().default(512),
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().positive().default(15_000),
};

/** The OTEL_* variables alone (each app's own schema includes them with its other settings). */
export const telemetryEnvSchema = z.object(telemetryEnvShape);
export type TelemetryEnv = z.output<typeof telemetryEnvSchema>;
