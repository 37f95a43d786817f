import { SeverityNumber } from "@opentelemetry/api";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import type { Resource } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { TelemetryEnv } from "./env.ts";

/** One log event as the app's logger writes it (packages/kit/src/log.ts). */
export interface LogEvent {
  level: "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown>;
}

const SEVERITY = { info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };

/** OTLP attributes take primitives and arrays of them; anything else goes as its JSON text. */
function attributeValue(v: unknown): string | number | boolean {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Log export by OTLP/HTTP when OTEL_LOGS_EXPORTER=otlp and an endpoint is set: each event becomes a log
 * record of the app's resource, emitted in the active context so the SDK stamps the span's trace and span ids.
 */
export function startLogExport(env: TelemetryEnv, resource: Resource, url: string | undefined) {
  if (env.OTEL_SDK_DISABLED || env.OTEL_LOGS_EXPORTER !== "otlp" || !url) return undefined;
  const provider = new LoggerProvider({
    resource,
    processors: [
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter({ url }),
        scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
      }),
    ],
  });
  const logger = provider.getLogger("evgrid");
  return {
    emit(event: LogEvent) {
      const attributes: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(event.fields)) attributes[k] = attributeValue(v);
      logger.emit({
        severityNumber: SEVERITY[event.level],
        severityText: event.level.toUpperCase(),
        body: event.message,
        attributes,
      });
    },
    shutdown: () => provider.shutdown(),
  };
}
