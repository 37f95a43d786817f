import { durationBucketsS } from "@evgrid/telemetry";
import type { Meter } from "@opentelemetry/api";

/** The gateway's metrics (Prometheus names: evgrid_ocpp_*). */
export function gatewayMetrics(meter: Meter) {
  const messages = meter.createCounter("evgrid_ocpp_messages", {
    description: "OCPP calls by action, direction (in: from chargers, out: to them) and outcome",
  });
  const profiles = meter.createCounter("evgrid_ocpp_profiles", {
    description: "SetChargingProfile calls by outcome (accepted, rejected, timeout, error)",
  });
  const pushLatency = meter.createHistogram("evgrid_ocpp_push_latency_seconds", {
    description: "From a re-share at the substation to the charger's answer to its new profile",
    unit: "s",
    advice: { explicitBucketBoundaries: durationBucketsS },
  });
  const refused = meter.createCounter("evgrid_ocpp_connections_refused", {
    description: "WebSocket upgrades refused, by reason (unknown, password, protocol, full, path)",
  });
  const meterReports = meter.createCounter("evgrid_ocpp_meter_reports", {
    description: "Meter readings reported to the substations (reportMeter), by outcome (ok, failed)",
  });
  const stops = meter.createCounter("evgrid_ocpp_session_stops", {
    description:
      "Attempts to stop a grid session for a charger, by outcome (done, failed: retried until done)",
  });
  const registryFailures = meter.createCounter("evgrid_ocpp_registry_write_failures", {
    description: "Registry writes that failed (a full disk, say) where the gateway carried on from memory",
  });
  const connectorsRefused = meter.createCounter("evgrid_ocpp_connector_refused", {
    description: "Transactions refused on a connector id the charge point was not registered with",
  });
  const implausible = meter.createCounter("evgrid_ocpp_meter_implausible", {
    description:
      "Meter readings ignored as not believable, by reason (backwards, too_fast, power, meter_start)",
  });
  return {
    meterImplausible(reason: "backwards" | "too_fast" | "power" | "meter_start") {
      implausible.add(1, { reason });
    },
    connectorRefused() {
      connectorsRefused.add(1);
    },
    stop(outcome: "done" | "failed") {
      stops.add(1, { outcome });
    },
    registryWriteFailed() {
      registryFailures.add(1);
    },
    meterReport(outcome: "ok" | "failed") {
      meterReports.add(1, { outcome });
    },
    message(action: string, direction: "in" | "out", outcome: string) {
      messages.add(1, { action, direction, outcome });
    },
    profile(outcome: string, latencyMs: number) {
      profiles.add(1, { outcome });
      if (outcome === "accepted") pushLatency.record(latencyMs / 1000);
    },
    refused(reason: string) {
      refused.add(1, { reason });
    },
    /** Gauges read at scrape time. */
    observe(read: {
      connected: () => number;
      reclaimedKw: () => number;
      transactions: () => Record<string, number>;
      stopsPending: () => number;
    }) {
      meter
        .createObservableGauge("evgrid_ocpp_stops_pending", {
          description: "Grid sessions whose stop the grid has not confirmed yet (retried until it has)",
        })
        .addCallback((r) => r.observe(read.stopsPending()));
      meter
        .createObservableGauge("evgrid_ocpp_connected_chargers", {
          description: "Charge points connected now",
        })
        .addCallback((r) => r.observe(read.connected()));
      meter
        .createObservableGauge("evgrid_ocpp_reclaimed_watts", {
          description: "Power taken back from vehicles drawing less than their share, now",
          unit: "W",
        })
        .addCallback((r) => r.observe(read.reclaimedKw() * 1000));
      meter
        .createObservableGauge("evgrid_ocpp_transactions", {
          description: "Open transactions by state (charging, waiting, binding, stopping)",
        })
        .addCallback((r) => {
          for (const [state, n] of Object.entries(read.transactions())) r.observe(n, { state });
        });
    },
  };
}

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
