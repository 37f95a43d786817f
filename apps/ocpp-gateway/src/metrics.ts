import type { Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import { durationBucketsS } from "@evgrid/telemetry";
import type { Attributes, Meter } from "@opentelemetry/api";

/**
 * A counter for the per-call counts (thousands a second in a re-share): kept in a Map and read at scrape or
 * export time. A Counter's `add` hashes its attributes (sorted, stringified) on every call, a measurable share
 * of a SetChargingProfile's cost; the numbers exported are the same.
 */
function tally(meter: Meter, name: string, description: string) {
  const counts = new Map<string, { attrs: Attributes; n: number }>();
  meter.createObservableCounter(name, { description }).addCallback((r) => {
    for (const { attrs, n } of counts.values()) r.observe(n, attrs);
  });
  return (key: string, attrs: () => Attributes) => {
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { attrs: attrs(), n: 1 });
  };
}

/** The gateway's metrics (Prometheus names: evgrid_ocpp_*). */
export function gatewayMetrics(meter: Meter) {
  const messages = tally(
    meter,
    "evgrid_ocpp_messages",
    "OCPP calls by action, direction (in: from chargers, out: to them) and outcome",
  );
  const profiles = tally(
    meter,
    "evgrid_ocpp_profiles",
    "SetChargingProfile calls by outcome (accepted, rejected, timeout, error)",
  );
  const pushLatency = meter.createHistogram("evgrid_ocpp_push_latency_seconds", {
    description: "From a re-share at the substation to the charger's answer to its new profile",
    unit: "s",
    advice: { explicitBucketBoundaries: durationBucketsS },
  });
  const refused = meter.createCounter("evgrid_ocpp_connections_refused", {
    description:
      "WebSocket upgrades refused, by reason (unknown, password, locked, busy, protocol, full, path)",
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
  const overdraws = meter.createCounter("evgrid_ocpp_overdraws", {
    description:
      "Chargers caught drawing more than their accepted limit, or with no transaction open (OCPP_OVERDRAW_S): counted at their maximum since",
  });
  // A series from the start: the first catch is an increase alerts see (a counter appearing at 1 is not).
  overdraws.add(0);
  return {
    overdraw() {
      overdraws.add(1);
    },
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
      messages(`${action} ${direction} ${outcome}`, () => ({ action, direction, outcome }));
    },
    /** latencyMs: from the re-share to the answer that reached its value; null for any other answer. */
    profile(outcome: string, latencyMs: number | null) {
      profiles(outcome, () => ({ outcome }));
      if (outcome === "accepted" && latencyMs !== null) pushLatency.record(latencyMs / 1000);
    },
    refused(reason: string) {
      refused.add(1, { reason });
    },
    /** Gauges read at scrape time. */
    observe(read: {
      connected: () => number;
      unmanaged: () => number;
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
        .createObservableGauge("evgrid_ocpp_unmanaged_chargers", {
          description:
            "Charge points that take no power limits (they refuse them or do not answer): counted at their maximum",
        })
        .addCallback((r) => r.observe(read.unmanaged()));
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

/** A registry write that may fail (a full disk): counted and logged, never thrown; the caller goes on. */
export function writeRegistry(metrics: GatewayMetrics, log: Logger, failure: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    metrics.registryWriteFailed();
    log.error(failure, { error: describeFailure(err) });
  }
}
