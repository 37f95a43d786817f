/**
 * A day in virtual time, event by event, through the policy code the apps run (packages/policy): the
 * balancer's choice (`bestCandidate`), the substation's admission on minimums (`decideAdmission`), its
 * fair share (`waterLevel` / `shareAtLevel`, with priority weights), its curtailment when the operator's
 * limit drops (`curtailNewestFirst`), and the wait queue's order (`byClassThenArrival`). No sockets, no
 * timers: events are taken from a heap in time order, and energy is integrated between them.
 */
import {
  bestCandidate,
  byClassThenArrival,
  type CandidateView,
  curtailNewestFirst,
  decideAdmission,
  effectiveCapacityKw,
  KW_EPSILON,
  PRIORITY_WEIGHT,
  shareAtLevel,
  waterLevel,
} from "@evgrid/policy";
import { Heap } from "heap-js";
import { type Arrival, Random } from "./arrivals.ts";
import type { SessionRecord } from "./records.ts";
import type { Scenario } from "./scenario.ts";

export type PolicyId = "fewest-sessions" | "least-utilization" | "evgrid" | "evgrid-priorities";

export interface Policy {
  id: PolicyId;
  label: string;
  /** Admission on minimums, water-filling, waiting, curtailment: this system's rules. */
  controlled: boolean;
  /** Priority classes as weights and queue order (else everyone is standard). */
  priorities: boolean;
}

export const POLICIES: readonly Policy[] = [
  {
    id: "fewest-sessions",
    label: "fewest sessions, no admission (original)",
    controlled: false,
    priorities: false,
  },
  {
    id: "least-utilization",
    label: "least utilization, no admission",
    controlled: false,
    priorities: false,
  },
  {
    id: "evgrid",
    label: "evgrid: capacity-weighted, admission, water-filling, waiting",
    controlled: true,
    priorities: false,
  },
  { id: "evgrid-priorities", label: "evgrid with priorities", controlled: true, priorities: true },
];

interface Site {
  id: string;
  index: number;
  capacityKw: number;
  limitKw: number | null;
  live: Live[];
  committedMinKw: number;
  demandKw: number;
  drawnKw: number;
  /** Virtual minute up to which its sessions' energy is counted. */
  atMin: number;
  /** Bumped at every re-share: older completion events are stale. */
  version: number;
  // measures
  peakUtilization: number;
  minutesAboveCapacity: number;
  minutesAboveLimit: number;
  curtailedKwMin: number;
  overCapacityKwh: number;
  powerSeries: number[];
  limitSeries: (number | null)[];
}

interface Live {
  v: Vehicle;
  allocKw: number;
  seq: number;
}

interface Vehicle {
  a: Arrival;
  deliveredKwh: number;
  /** When it was admitted (minutes); null while waiting or if never. */
  admittedMin: number | null;
  waitedMin: number;
  /** The site it was last admitted to, for its session record. */
  siteId: string | null;
  state: "new" | "waiting" | "charging" | "done" | "gone";
  refused: boolean;
  curtailed: number;
}

type Event =
  | { t: number; kind: "limit"; order: 0; sites: string[]; share: number | null }
  | { t: number; kind: "depart"; order: 1; v: Vehicle }
  | { t: number; kind: "complete"; order: 2; site: Site; version: number }
  | { t: number; kind: "giveUp"; order: 3; v: Vehicle }
  | { t: number; kind: "arrive"; order: 4; v: Vehicle }
  | { t: number; kind: "sample"; order: 5 };

export interface PolicyResult {
  policy: Policy;
  wantedKwh: number;
  deliveredKwh: number;
  unmetPct: number;
  vehicles: number;
  admitted: number;
  refused: number;
  waited: number;
  waitP50Min: number;
  waitP95Min: number;
  /** Sorted waiting times of admitted vehicles (0 for those admitted at once), for the CDF. */
  waits: number[];
  jainFairness: number;
  /** Energy the operator's limit held back: what the sites would have handed out without it. */
  curtailedKwh: number;
  curtailedSessions: number;
  /** Energy delivered while no site drew more than its capacity: what a real grid would have supplied. */
  withinLimitsKwh: number;
  /** Energy counted as delivered while a site drew more than its capacity: breakers trip; it is on paper only. */
  overCapacityKwh: number;
  byClass: Record<string, { vehicles: number; wantedKwh: number; deliveredKwh: number }>;
  substations: {
    id: string;
    capacityKw: number;
    peakUtilization: number;
    minutesAboveCapacity: number;
    minutesAboveLimit: number;
    power: number[];
    limit: (number | null)[];
  }[];
  queue: number[];
}

const DAY_MIN = 24 * 60;
const KWH_EPSILON = 1e-6;

/** Replays the day under one policy. */
// biome-ignore lint/complexity/noExcessiveCognitiveComplexity: the day's loop (simulator engine issue)
export function simulate(
  scenario: Scenario,
  arrivals: readonly Arrival[],
  policy: Policy,
  options: { onSession?: (record: SessionRecord) => void } = {},
): PolicyResult {
  const random = new Random(scenario.seed + 7919);
  const sites: Site[] = scenario.substations.map((s, index) => ({
    id: s.id,
    index,
    capacityKw: s.capacityKw,
    limitKw: null,
    live: [],
    committedMinKw: 0,
    demandKw: 0,
    drawnKw: 0,
    atMin: 0,
    version: 0,
    peakUtilization: 0,
    minutesAboveCapacity: 0,
    minutesAboveLimit: 0,
    curtailedKwMin: 0,
    overCapacityKwh: 0,
    powerSeries: [],
    limitSeries: [],
  }));
  const byId = new Map(sites.map((s) => [s.id, s]));
  /** Where each charging vehicle is. */
  const siteOf = new Map<Vehicle, Site>();
  const vehicles: Vehicle[] = arrivals.map((a) => ({
    a: policy.priorities ? a : { ...a, priority: "standard" },
    deliveredKwh: 0,
    admittedMin: null,
    waitedMin: 0,
    siteId: null,
    state: "new",
    refused: false,
    curtailed: 0,
  }));
  const events = new Heap<Event>((x, y) => x.t - y.t || x.order - y.order);
  for (const v of vehicles) events.push({ t: v.a.arriveMin, kind: "arrive", order: 4, v });
  for (const l of scenario.operatorLimits) {
    const ids = l.substations ?? sites.map((s) => s.id);
    events.push({ t: l.from, kind: "limit", order: 0, sites: ids, share: l.share });
    events.push({ t: l.to, kind: "limit", order: 0, sites: ids, share: null });
  }
  for (let t = 0; t <= DAY_MIN; t += scenario.sampleMin) events.push({ t, kind: "sample", order: 5 });

  const waiting: (Vehicle & { seq: number; priority: Arrival["priority"] })[] = [];
  const queueSeries: number[] = [];
  let seq = 0;
  let curtailedSessions = 0;
  const weightOf = (v: Vehicle) => (policy.priorities ? PRIORITY_WEIGHT[v.a.priority] : 1);

  /** Counts energy and the site's time above its limits up to `t`. */
  const advance = (site: Site, t: number) => {
    const dt = t - site.atMin;
    if (dt <= 0) return;
    for (const l of site.live)
      l.v.deliveredKwh = Math.min(l.v.a.wantKwh, l.v.deliveredKwh + (l.allocKw * dt) / 60);
    if (site.drawnKw > site.capacityKw + KW_EPSILON) {
      site.minutesAboveCapacity += dt;
      site.overCapacityKwh += ((site.drawnKw - site.capacityKw) * dt) / 60;
    }
    if (site.limitKw !== null) {
      if (site.drawnKw > site.limitKw + KW_EPSILON) site.minutesAboveLimit += dt;
      // What the limit held back: the power the site would have handed out without it.
      const unlimited = Math.min(site.capacityKw, site.demandKw);
      site.curtailedKwMin += Math.max(0, unlimited - site.drawnKw) * dt;
    }
    site.atMin = t;
  };

  /** New shares at a site after any change, and its next completion event. */
  const reshare = (site: Site, t: number) => {
    site.version += 1;
    if (policy.controlled) {
      const demands = site.live.map((l) => ({
        minKw: l.v.a.minKw,
        maxKw: l.v.a.maxKw,
        weight: weightOf(l.v),
      }));
      const level = waterLevel(demands, effectiveCapacityKw(site));
      const bound = level === Number.POSITIVE_INFINITY ? null : Math.max(0, level);
      for (const [i, l] of site.live.entries())
        l.allocKw = shareAtLevel(demands[i] as (typeof demands)[number], bound);
    } else {
      // The original behaviour: every session draws its maximum, whatever the site can take.
      for (const l of site.live) l.allocKw = l.v.a.maxKw;
    }
    let drawn = 0;
    let next = Number.POSITIVE_INFINITY;
    for (const l of site.live) {
      drawn += l.allocKw;
      if (l.allocKw > 0) next = Math.min(next, t + ((l.v.a.wantKwh - l.v.deliveredKwh) / l.allocKw) * 60);
    }
    site.drawnKw = drawn;
    site.peakUtilization = Math.max(site.peakUtilization, drawn / site.capacityKw);
    if (next < Number.POSITIVE_INFINITY)
      events.push({ t: next, kind: "complete", order: 2, site, version: site.version });
  };

  const start = (v: Vehicle, site: Site, t: number) => {
    advance(site, t);
    site.live.push({ v, allocKw: 0, seq: seq++ });
    siteOf.set(v, site);
    site.committedMinKw += v.a.minKw;
    site.demandKw += v.a.maxKw;
    v.state = "charging";
    v.admittedMin ??= t;
    v.siteId = site.id;
    reshare(site, t);
  };

  const stop = (site: Site, live: Live) => {
    site.live.splice(site.live.indexOf(live), 1);
    siteOf.delete(live.v);
    site.committedMinKw -= live.v.a.minKw;
    site.demandKw -= live.v.a.maxKw;
  };

  const view = (site: Site): CandidateView => ({
    id: site.id,
    capacityKw: site.capacityKw,
    effectiveCapacityKw: effectiveCapacityKw(site),
    committedMinKw: site.committedMinKw,
    demandKw: site.demandKw,
    inflightMinKw: 0,
    inflightMaxKw: 0,
  });

  /** Where a vehicle goes under this policy; undefined: no site admits it now. */
  const choose = (v: Vehicle): Site | undefined => {
    if (policy.id === "fewest-sessions") {
      return sites.reduce((best, s) => (s.live.length < best.live.length ? s : best));
    }
    if (policy.id === "least-utilization") {
      return sites.reduce((best, s) =>
        s.drawnKw / s.capacityKw < best.drawnKw / best.capacityKw ? s : best,
      );
    }
    const site = bestCandidate(sites, view, v.a, () => random.next());
    if (!site) return undefined;
    return decideAdmission(site, site.committedMinKw, v.a.minKw).admitted ? site : undefined;
  };

  /** Freed power goes to waiters, higher class first, then first come; one that cannot fit does not block. */
  const serveWaiters = (t: number) => {
    if (waiting.length === 0) return;
    waiting.sort(byClassThenArrival);
    for (const w of [...waiting]) {
      const site = choose(w);
      if (!site) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.waitedMin = t - w.a.arriveMin;
      start(w, site, t);
    }
  };

  const leaveQueue = (v: Vehicle) => {
    const i = waiting.indexOf(v as (typeof waiting)[number]);
    if (i >= 0) waiting.splice(i, 1);
  };

  for (let e = events.pop(); e; e = events.pop()) {
    const t = e.t;
    switch (e.kind) {
      case "arrive": {
        const v = e.v;
        events.push({ t: v.a.departMin, kind: "depart", order: 1, v });
        const site = choose(v);
        if (site) start(v, site, t);
        else if (scenario.maxWaitMin > 0 && v.a.departMin > t) {
          v.state = "waiting";
          waiting.push(Object.assign(v, { seq: v.a.id, priority: v.a.priority }));
          events.push({ t: Math.min(v.a.departMin, t + scenario.maxWaitMin), kind: "giveUp", order: 3, v });
        } else {
          v.state = "gone";
          v.refused = true;
        }
        break;
      }
      case "giveUp": {
        if (e.v.state !== "waiting") break;
        leaveQueue(e.v);
        e.v.state = "gone";
        e.v.refused = true;
        e.v.waitedMin = t - e.v.a.arriveMin;
        break;
      }
      case "depart": {
        const v = e.v;
        if (v.state === "waiting") {
          leaveQueue(v);
          v.state = "gone";
          v.refused = true;
          v.waitedMin = t - v.a.arriveMin;
        } else if (v.state === "charging") {
          const site = siteOf.get(v) as Site;
          advance(site, t);
          stop(site, site.live.find((l) => l.v === v) as Live);
          v.state = "gone";
          reshare(site, t);
          serveWaiters(t);
        }
        break;
      }
      case "complete": {
        const site = e.site;
        if (e.version !== site.version) break;
        advance(site, t);
        const full = site.live.filter((l) => l.v.deliveredKwh >= l.v.a.wantKwh - KWH_EPSILON);
        for (const l of full) {
          stop(site, l);
          l.v.state = "done";
        }
        reshare(site, t);
        if (full.length > 0) serveWaiters(t);
        break;
      }
      case "limit": {
        for (const id of e.sites) {
          const site = byId.get(id) as Site;
          advance(site, t);
          site.limitKw = e.share === null ? null : site.capacityKw * e.share;
          if (policy.controlled) {
            // The substation's own rule: shed the newest sessions until the minimums fit; they wait again.
            const newestFirst = [...site.live].sort((x, y) => y.seq - x.seq);
            const shed = curtailNewestFirst(
              newestFirst.map((l) => l.v.a.minKw),
              site.committedMinKw,
              effectiveCapacityKw(site),
            );
            for (const l of newestFirst.slice(0, shed)) {
              stop(site, l);
              l.v.curtailed += 1;
              curtailedSessions += 1;
              l.v.state = "waiting";
              waiting.push(Object.assign(l.v, { seq: l.v.a.id, priority: l.v.a.priority }));
            }
          }
          reshare(site, t);
        }
        serveWaiters(t);
        break;
      }
      case "sample": {
        for (const s of sites) {
          s.powerSeries.push(s.drawnKw);
          s.limitSeries.push(s.limitKw);
        }
        queueSeries.push(waiting.length);
        break;
      }
    }
  }
  for (const s of sites) advance(s, Math.max(s.atMin, DAY_MIN));
  if (options.onSession) for (const v of vehicles) options.onSession(sessionRecord(v));
  return measure(policy, vehicles, sites, queueSeries, curtailedSessions);
}

/** A vehicle's visit as the per-session CSV gives it. */
const sessionRecord = (v: Vehicle): SessionRecord => ({
  id: v.a.id,
  siteId: v.siteId,
  stationId: null,
  arriveMin: v.a.arriveMin,
  departMin: v.a.departMin,
  askedKwh: v.a.wantKwh,
  deliveredKwh: v.deliveredKwh,
  waitedMin: v.waitedMin,
  outcome: v.admittedMin === null ? "refused" : "charged",
});

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

function measure(
  policy: Policy,
  vehicles: Vehicle[],
  sites: Site[],
  queue: number[],
  curtailedSessions: number,
): PolicyResult {
  let wanted = 0;
  let delivered = 0;
  let sumRatio = 0;
  let sumRatio2 = 0;
  const byClass: PolicyResult["byClass"] = {};
  for (const v of vehicles) {
    wanted += v.a.wantKwh;
    delivered += v.deliveredKwh;
    const ratio = v.deliveredKwh / v.a.wantKwh;
    sumRatio += ratio;
    sumRatio2 += ratio * ratio;
    const c = byClass[v.a.priority] ?? { vehicles: 0, wantedKwh: 0, deliveredKwh: 0 };
    byClass[v.a.priority] = c;
    c.vehicles += 1;
    c.wantedKwh += v.a.wantKwh;
    c.deliveredKwh += v.deliveredKwh;
  }
  const admittedVehicles = vehicles.filter((v) => v.admittedMin !== null);
  const waits = admittedVehicles
    .map((v) => v.admittedMin as number)
    .map((m, i) => m - (admittedVehicles[i] as Vehicle).a.arriveMin);
  waits.sort((a, b) => a - b);
  const waitedTimes = vehicles
    .filter((v) => v.waitedMin > 0)
    .map((v) => v.waitedMin)
    .sort((a, b) => a - b);
  return {
    policy,
    wantedKwh: wanted,
    deliveredKwh: delivered,
    unmetPct: wanted === 0 ? 0 : (100 * (wanted - delivered)) / wanted,
    vehicles: vehicles.length,
    admitted: admittedVehicles.length,
    refused: vehicles.filter((v) => v.refused).length,
    waited: waitedTimes.length,
    waitP50Min: percentile(waitedTimes, 0.5),
    waitP95Min: percentile(waitedTimes, 0.95),
    waits,
    jainFairness: vehicles.length === 0 ? 1 : (sumRatio * sumRatio) / (vehicles.length * sumRatio2 || 1),
    curtailedKwh: sites.reduce((s, x) => s + x.curtailedKwMin, 0) / 60,
    overCapacityKwh: sites.reduce((s, x) => s + x.overCapacityKwh, 0),
    withinLimitsKwh: delivered - sites.reduce((s, x) => s + x.overCapacityKwh, 0),
    curtailedSessions,
    byClass,
    substations: sites.map((s) => ({
      id: s.id,
      capacityKw: s.capacityKw,
      peakUtilization: s.peakUtilization,
      minutesAboveCapacity: s.minutesAboveCapacity,
      minutesAboveLimit: s.minutesAboveLimit,
      power: s.powerSeries,
      limit: s.limitSeries,
    })),
    queue,
  };
}
