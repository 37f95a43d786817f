import { context, createNoopMeter, type Meter, propagation, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { TelemetryEnv } from "./env.ts";
import { type LogEvent, startLogExport } from "./logs.ts";

export interface Telemetry {
  serviceName: string;
  meter: Meter;
  tracer: Tracer;
  /** True when spans are recorded and exported; false means the tracer is a no-op. */
  tracing: boolean;
  /** True when metrics are pushed by OTLP; /metrics then serves no samples. */
  metricsPushed: boolean;
  /** False with OTEL_METRICS_EXPORTER=none: the meter is a no-op and /metrics serves no samples. */
  metricsOn: boolean;
  /** Prometheus text exposition of this app's metrics, for its own GET /metrics. */
  renderMetrics(): Promise<string>;
  /** Exports a log event by OTLP (OTEL_LOGS_EXPORTER=otlp); undefined when logs stay on stdout only. */
  emitLog?: ((event: LogEvent) => void) | undefined;
  /** Flushes pending spans, metrics and logs. */
  shutdown(): Promise<void>;
}

let globalsInstalled = false;

/**
 * Context propagation is process-wide by nature: W3C trace context on the wire, AsyncLocalStorage to carry
 * the active span across awaits (auto-instrumentation does not cover Bun.serve or fetch).
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

function samplerFrom(env: TelemetryEnv): Sampler {
  const ratio = new TraceIdRatioBasedSampler(env.OTEL_TRACES_SAMPLER_ARG);
  switch (env.OTEL_TRACES_SAMPLER) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio;
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTLP over HTTP, as protobuf (default) or JSON: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL. */
function traceExporter(env: TelemetryEnv, url: string) {
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  return protocol === "http/json" ? new OTLPJsonTraceExporter({ url }) : new OTLPProtoTraceExporter({ url });
}

const join = (base: string, path: string) => `${base.replace(/\/$/, "")}/${path}`;

/**
 * Everything one app instance measures. Each instance gets its own providers (so the in-process test grid
 * keeps its three services apart); only the propagator and context manager are global.
 */
export function startTelemetry(opts: { service: string; version: string; env: TelemetryEnv }): Telemetry {
  const { env } = opts;
  installGlobals();
  const serviceName = env.OTEL_SERVICE_NAME ?? opts.service;
  const resource = resourceFromAttributes({
    "service.name": serviceName,
    "service.version": opts.version,
  }).merge(
    // OTEL_RESOURCE_ATTRIBUTES (deployment.environment, service.instance.id, ...).
    detectResources({ detectors: [envDetector] }),
  );

  // Metrics: pulled as Prometheus text from the app's own server (the exporter's own HTTP server is never
  // started), or, with OTEL_METRICS_EXPORTER=otlp and an endpoint, pushed by OTLP instead. Never both: the
  // collector scrapes every app as well as receiving OTLP, and would add each counter up twice.
  const metricsUrl =
    env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT && join(env.OTEL_EXPORTER_OTLP_ENDPOINT, "v1/metrics"));
  const pushUrl =
    !env.OTEL_SDK_DISABLED && env.OTEL_METRICS_EXPORTER === "otlp" && metricsUrl ? metricsUrl : undefined;
  // `none`: no meter provider at all, so recording a sample costs one empty call (BENCHMARKS.md: metrics were
  // ~23 µs per request across the chain).
  const metricsOn = env.OTEL_METRICS_EXPORTER !== "none";
  const prometheus = pushUrl || !metricsOn ? undefined : new PrometheusExporter({ preventServerStart: true });
  const readers: MetricReader[] = prometheus
    ? [prometheus]
    : [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: pushUrl }),
          exportIntervalMillis: env.OTEL_METRIC_EXPORT_INTERVAL,
        }),
      ];
  const meterProvider = metricsOn ? new MeterProvider({ resource, readers }) : undefined;
  // No otel_scope_* labels on every series: one scope per app, and target_info carries the service.
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

  // Traces: only with somewhere to send them. Without, the API's no-op tracer costs almost nothing, and
  // incoming trace context still flows through to the next hop.
  const tracesUrl =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT && join(env.OTEL_EXPORTER_OTLP_ENDPOINT, "v1/traces"));
  const tracing = !env.OTEL_SDK_DISABLED && env.OTEL_TRACES_EXPORTER === "otlp" && tracesUrl !== undefined;
  const tracerProvider = tracing
    ? new TracerProvider({
        resource,
        sampler: samplerFrom(env),
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: traceExporter(env, tracesUrl),
            scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
            maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
            maxExportBatchSize: Math.min(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, env.OTEL_BSP_MAX_QUEUE_SIZE),
          }),
        ],
      })
    : undefined;

  const logsUrl =
    env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT && join(env.OTEL_EXPORTER_OTLP_ENDPOINT, "v1/logs"));
  const logExport = startLogExport(env, resource, logsUrl);

  return {
    serviceName,
    emitLog: logExport?.emit,
    meter: meterProvider ? meterProvider.getMeter(opts.service, opts.version) : createNoopMeter(),
    tracer: tracerProvider
      ? tracerProvider.getTracer(opts.service, opts.version)
      : trace.getTracer(opts.service),
    tracing,
    metricsPushed: metricsOn && pushUrl !== undefined,
    metricsOn,
    async renderMetrics() {
      // A scrape still answers (its `up` says the process lives) but with no samples: none to count twice
      // when pushed, none at all when off.
      if (!metricsOn) return "# metrics are off (OTEL_METRICS_EXPORTER=none)\n";
      if (!prometheus) return `# metrics are pushed by OTLP (OTEL_METRICS_EXPORTER=otlp), not served here\n`;
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      await Promise.allSettled([
        meterProvider?.shutdown(),
        tracerProvider?.shutdown(),
        logExport?.shutdown(),
      ]);
    },
  };
}
