import type { Meter } from "@opentelemetry/api";
import type { DispatchReport } from "./types.ts";
import type { GridView } from "./view.ts";

/** What the balancer did and what it believes, labelled by substation id (its URL until it has answered). */
export function balancerMetrics(
  meter: Meter,
  view: GridView,
  waiting: () => number,
  /** 1 reachable, 0 not; undefined: no shared store configured (one replica), and no series. */
  storeUp: () => boolean | undefined = () => undefined,
  waitPumps: () => number = () => 0,
) {
  const dispatches = meter.createCounter("evgrid_balancer_dispatches", {
    description:
      "Dispatches by outcome (admitted, grid_full, unavailable, timeout, deadline, quota, invalid) and chosen substation",
  });
  const tries = meter.createHistogram("evgrid_balancer_dispatch_tries", {
    description: "Substations asked per dispatch",
    advice: { explicitBucketBoundaries: [1, 2, 3, 4, 5, 8, 13] },
  });
  const outcomes = ["admitted", "grid_full", "unavailable", "timeout", "deadline", "quota", "invalid"];
  for (const outcome of outcomes) dispatches.add(0, { outcome, substation: "none" });

  const label = (m: GridView["members"][number]) => m.id ?? m.url;
  const gauges = {
    age: meter.createObservableGauge("evgrid_balancer_view_age_seconds", {
      description: "Age of the load the balancer last received from each substation",
      unit: "s",
    }),
    up: meter.createObservableGauge("evgrid_balancer_substation_up", {
      description: "1 if the substation answers and is in rotation, else 0",
    }),
    healthy: meter.createObservableGauge("evgrid_balancer_healthy_substations", {
      description: "Substations in rotation",
    }),
    members: meter.createObservableGauge("evgrid_balancer_substations", {
      description: "Substations configured",
    }),
    inflight: meter.createObservableGauge("evgrid_balancer_inflight_dispatches", {
      description: "startSession calls sent and not yet answered",
    }),
    waiting: meter.createObservableGauge("evgrid_balancer_waiting_requests", {
      description: "Requests waiting for capacity (waitS), all callers",
    }),
    pumps: meter.createObservableCounter("evgrid_balancer_wait_pumps_total", {
      description: "Passes over the wait queue (after each load refresh and stop): what tests wait for",
    }),
    store: meter.createObservableGauge("evgrid_balancer_state_store_up", {
      description:
        "1 if the shared state store (REDIS_URL) answers; 0: requests go where the substations say, or to a hashed home (README)",
    }),
  };
  meter.addBatchObservableCallback((r) => {
    let healthy = 0;
    for (const s of view.status()) {
      const m = view.members.find((x) => x.url === s.url);
      if (!m) continue;
      const attrs = { substation: label(m) };
      if (s.ageMs !== null) r.observe(gauges.age, s.ageMs / 1000, attrs);
      r.observe(gauges.up, s.healthy ? 1 : 0, attrs);
      r.observe(gauges.inflight, s.inflight, attrs);
      if (s.healthy) healthy += 1;
    }
    r.observe(gauges.healthy, healthy);
    r.observe(gauges.members, view.members.length);
    r.observe(gauges.waiting, waiting());
    r.observe(gauges.pumps, waitPumps());
    const up = storeUp();
    if (up !== undefined) r.observe(gauges.store, up ? 1 : 0);
  }, Object.values(gauges));

  return (report: DispatchReport) => {
    dispatches.add(1, { outcome: report.outcome, substation: report.substationId ?? "none" });
    tries.record(report.tries);
  };
}

/** What the shared store did wrong, as counters (created only when REDIS_URL is set). */
export function storeMetrics(meter: Meter) {
  const resets = meter.createCounter("evgrid_balancer_state_store_resets_total", {
    description:
      "Times this replica found the shared store had forgotten its state (epoch changed or gone) and rebuilt it from the substations",
  });
  const bad = meter.createCounter("evgrid_balancer_state_store_bad_values_total", {
    description: "Values in the shared store that did not parse (or had no expiry), treated as absent",
  });
  let evicting: boolean | undefined;
  meter
    .createObservableGauge("evgrid_balancer_state_store_evicting", {
      description:
        "1 if the shared store's maxmemory-policy may evict keys: not trusted, requests placed as when it cannot vouch (README)",
    })
    .addCallback((r) => {
      if (evicting !== undefined) r.observe(evicting ? 1 : 0);
    });
  resets.add(0);
  bad.add(0);
  return {
    onReset: () => resets.add(1),
    onBadValue: () => bad.add(1),
    onEvicting: (now: boolean) => {
      evicting = now;
    },
  };
}
