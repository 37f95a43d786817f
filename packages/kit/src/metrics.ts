import type { Meter } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";

export interface Metrics {
  meter: Meter;
  /** Prometheus text exposition of everything this process measured. */
  render(): Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * One MeterProvider per app instance. The Prometheus exporter is used only as a pull reader: its own HTTP
 * server is never started (it would fight over a fixed port); the app's Bun server serves `/metrics`.
 */
export function createMetrics(service: string, version: string): Metrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": service, "service.version": version }),
    readers: [exporter],
  });
  const serializer = new PrometheusSerializer();
  return {
    meter: provider.getMeter(service, version),
    async render() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}
