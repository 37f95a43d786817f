import type { Session, SubstationLoad } from "@evgrid/contract";
import type { Meter } from "@opentelemetry/api";
import { JOURNAL_OPS, type JournalOp } from "./journal-writes.ts";
import type { Station } from "./station.ts";

const WATTS_PER_KW = 1000;
const JOULES_PER_KWH = 3_600_000;

/** name, description, unit, how to read it from a load snapshot. */
const LOAD_GAUGES: [string, string, string | null, (load: SubstationLoad) => number][] = [
  ["evgrid_substation_capacity_watts", "Physical capacity", "W", (l) => l.capacityKw * WATTS_PER_KW],
  [
    "evgrid_substation_effective_capacity_watts",
    "Capacity in force: min(capacity, operator limit), less power held for draws no session holds",
    "W",
    (l) => l.effectiveCapacityKw * WATTS_PER_KW,
  ],
  [
    "evgrid_substation_held_draw_watts",
    "Power held for draws no session holds (the OCPP gateway's chargers drawing with no transaction)",
    "W",
    (l) => (l.heldDrawKw ?? 0) * WATTS_PER_KW,
  ],
  [
    "evgrid_substation_allocated_watts",
    "Power handed out to sessions now",
    "W",
    (l) => l.allocatedKw * WATTS_PER_KW,
  ],
  [
    "evgrid_substation_committed_min_watts",
    "Sum of admitted sessions' minimum power",
    "W",
    (l) => l.committedMinKw * WATTS_PER_KW,
  ],
  [
    "evgrid_substation_demand_watts",
    "Sum of active sessions' maximum power",
    "W",
    (l) => l.demandKw * WATTS_PER_KW,
  ],
  ["evgrid_substation_active_sessions", "Sessions charging now", null, (l) => l.activeSessions],
  [
    "evgrid_substation_utilization_ratio",
    "Allocated over effective capacity, 0..1",
    "1",
    (l) => l.utilization,
  ],
  ["current_load", "Active sessions (the original system's load gauge)", null, (l) => l.activeSessions],
];

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
      const gauges = LOAD_GAUGES.map(([name, description, unit, read]) => ({
        gauge: meter.createObservableGauge(name, unit ? { description, unit } : { description }),
        read,
      }));
      const energy = meter.createObservableCounter("evgrid_substation_energy_delivered_joules", {
        description: "Energy delivered to vehicles since start, ended and active sessions",
        unit: "J",
      });
      meter.addBatchObservableCallback(
        (r) => {
          const load = station.load();
          for (const { gauge, read } of gauges) r.observe(gauge, read(load), attrs);
          r.observe(energy, station.energyDeliveredKwh() * JOULES_PER_KWH, attrs);
        },
        [...gauges.map((g) => g.gauge), energy],
      );
    },
  };
}

/**
 * The journal's health: failed writes by kind (`op`: start, end, checkpoint, setting, export, prune, schema),
 * writes waiting to be retried, and what retention did. A failing journal refuses new sessions, so the
 * error counter has an alert (otel/alerts.yaml).
 */
export function journalMetrics(meter: Meter, substationId: string) {
  const attrs = { substation: substationId };
  const errors = meter.createCounter("evgrid_substation_journal_errors", {
    description: "Journal writes that failed (disk full, size cap, I/O), by op; each is retried or refused",
  });
  for (const op of JOURNAL_OPS) errors.add(0, { ...attrs, op });
  const pruned = meter.createCounter("evgrid_substation_journal_pruned_sessions", {
    description: "Ended sessions deleted from the journal after retention (and export)",
  });
  const exported = meter.createCounter("evgrid_substation_cdr_exported_sessions", {
    description: "Ended sessions written as charge detail records (JSON Lines)",
  });
  pruned.add(0, attrs);
  exported.add(0, attrs);
  const pending = meter.createObservableGauge("evgrid_substation_journal_pending_writes", {
    description: "Journal writes waiting for room: ends, and the energy checkpoint while it is behind",
  });
  const commits = meter.createObservableCounter("evgrid_substation_journal_commits", {
    description: "Journal transactions committed by group commit (one WAL commit, one fsync with sync=full)",
  });
  const events = meter.createObservableCounter("evgrid_substation_journal_events", {
    description: "Events appended to the journal (starts, needs, checkpoints, ends)",
  });
  return {
    onError: (op: JournalOp) => errors.add(1, { ...attrs, op }),
    /** Commits and events per request served: how well group commit groups. */
    observeAppends(read: () => { commits: number; events: number }) {
      meter.addBatchObservableCallback(
        (r) => {
          const s = read();
          r.observe(commits, s.commits, attrs);
          r.observe(events, s.events, attrs);
        },
        [commits, events],
      );
    },
    onPruned: (n: number) => pruned.add(n, attrs),
    onExported: (n: number) => exported.add(n, attrs),
    observePending(read: () => number) {
      pending.addCallback((r) => r.observe(read(), attrs));
    },
  };
}
