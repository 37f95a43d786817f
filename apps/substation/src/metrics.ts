import type { Session } from "@evgrid/contract";
import type { Metrics } from "@evgrid/kit";
import type { Station } from "./station.ts";

/** Minimal load gauges (the observability issue adds the full set). */
export function stationMetrics(metrics: Metrics, substationId: string) {
  const { meter } = metrics;
  const attrs = { substation: substationId };
  const ended = meter.createCounter("evgrid.substation.sessions_ended", {
    description: "Sessions ended, by reason",
  });
  return {
    onEnd: (s: Session) => ended.add(1, { ...attrs, reason: s.endReason ?? "unknown" }),
    observe(station: Station) {
      meter
        .createObservableGauge("evgrid.substation.active_sessions", { description: "Sessions charging now" })
        .addCallback((r) => r.observe(station.load().activeSessions, attrs));
      meter
        .createObservableGauge("evgrid.substation.allocated", {
          description: "Power handed out now",
          unit: "kW",
        })
        .addCallback((r) => r.observe(station.load().allocatedKw, attrs));
      meter
        .createObservableGauge("evgrid.substation.effective_capacity", {
          description: "min(capacity, operator limit)",
          unit: "kW",
        })
        .addCallback((r) => r.observe(station.load().effectiveCapacityKw, attrs));
    },
  };
}
