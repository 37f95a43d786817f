import type { Session } from "@evgrid/contract";
import type { Meter } from "@opentelemetry/api";
import type { Station } from "./station.ts";

const WATTS_PER_KW = 1000;
const JOULES_PER_KWH = 3_600_000;

/**
 * The substation's own account of itself, in Prometheus base units (watts, joules, ratios) with the
 * substation id as a label. `current_load` keeps the original system's gauge: active sessions.
 */
export function stationMetrics(meter: Meter, substationId: string) {
  const attrs = { substation: substationId };
  const started = meter.createCounter("evgrid_substation_sessions_started", {
    description: "Sessions admitted",
  });
  const ended = meter.createCounter("evgrid_substation_sessions_ended", {
    description: "Sessions ended, by reason (time_elapsed, energy_delivered, stopped, curtailed)",
  });
  const refused = meter.createCounter("evgrid_substation_sessions_refused", {
    description: "Admissions refused, by reason (INSUFFICIENT_CAPACITY, OPERATOR_LIMIT)",
  });
  // Every counter starts at 0 for its known labels, so rate() and increase() work from the first scrape.
  started.add(0, attrs);
  for (const reason of ["time_elapsed", "energy_delivered", "stopped", "curtailed"])
    ended.add(0, { ...attrs, reason });
  for (const reason of ["INSUFFICIENT_CAPACITY", "OPERATOR_LIMIT"]) refused.add(0, { ...attrs, reason });

  return {
    onStart: () => started.add(1, attrs),
    onEnd: (s: Session) => ended.add(1, { ...attrs, reason: s.endReason ?? "unknown" }),
    onRefuse: (reason: string) => refused.add(1, { ...attrs, reason }),
    /** Gauges are read from the station when scraped: one O(1) load snapshot per scrape. */
    observe(station: Station) {
      const gauges = {
        capacity: meter.createObservableGauge("evgrid_substation_capacity_watts", {
          description: "Physical capacity",
          unit: "W",
        }),
        effective: meter.createObservableGauge("evgrid_substation_effective_capacity_watts", {
          description: "Capacity in force: min(capacity, operator limit)",
          unit: "W",
        }),
        allocated: meter.createObservableGauge("evgrid_substation_allocated_watts", {
          description: "Power handed out to sessions now",
          unit: "W",
        }),
        committed: meter.createObservableGauge("evgrid_substation_committed_min_watts", {
          description: "Sum of admitted sessions' minimum power",
          unit: "W",
        }),
        demand: meter.createObservableGauge("evgrid_substation_demand_watts", {
          description: "Sum of active sessions' maximum power",
          unit: "W",
        }),
        active: meter.createObservableGauge("evgrid_substation_active_sessions", {
          description: "Sessions charging now",
        }),
        utilization: meter.createObservableGauge("evgrid_substation_utilization_ratio", {
          description: "Allocated over effective capacity, 0..1",
          unit: "1",
        }),
        currentLoad: meter.createObservableGauge("current_load", {
          description: "Active sessions (the original system's load gauge)",
        }),
      };
      const energy = meter.createObservableCounter("evgrid_substation_energy_delivered_joules", {
        description: "Energy delivered to vehicles since start, ended and active sessions",
        unit: "J",
      });
      meter.addBatchObservableCallback(
        (r) => {
          const load = station.load();
          r.observe(gauges.capacity, load.capacityKw * WATTS_PER_KW, attrs);
          r.observe(gauges.effective, load.effectiveCapacityKw * WATTS_PER_KW, attrs);
          r.observe(gauges.allocated, load.allocatedKw * WATTS_PER_KW, attrs);
          r.observe(gauges.committed, load.committedMinKw * WATTS_PER_KW, attrs);
          r.observe(gauges.demand, load.demandKw * WATTS_PER_KW, attrs);
          r.observe(gauges.active, load.activeSessions, attrs);
          r.observe(gauges.utilization, load.utilization, attrs);
          r.observe(gauges.currentLoad, load.activeSessions, attrs);
          r.observe(energy, station.energyDeliveredKwh() * JOULES_PER_KWH, attrs);
        },
        [...Object.values(gauges), energy],
      );
    },
  };
}
