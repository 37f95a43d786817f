/**
 * A day in virtual time, event by event, through the policy code the apps run (packages/policy): the
 * balancer's choice (`bestCandidate`), the substation's per-site step (`admitTo`, `reshareSite`,
 * `curtailSite`; site-step.ts, which the Station calls too) and the wait queue's order
 * (`byClassThenArrival`). No sockets, no timers: events come from a heap in time order (arrivals from the
 * sorted array, merged in), and energy is integrated between them.
 *
 * Memory is O(live sessions + waiting cars + series): a visit is settled (its `SessionRecord` handed to
 * `onSession`, its figures added to the tally) as soon as it is over, and nothing keeps it afterwards.
 */
import { curtailSite, PRIORITY_WEIGHT } from "@evgrid/policy";
import { type Arrival, Random } from "./arrivals.ts";
import { chooseSite, headroomKw, Stations } from "./choice.ts";
import { ClassBooks } from "./class-books.ts";
import type { Policy } from "./policies.ts";
import { taperedMaxKw } from "./realism.ts";
import type { SessionRecord } from "./records.ts";
import { type PolicyResult, Tally } from "./results.ts";
import type { Scenario } from "./scenario.ts";
import { shareSite } from "./sharing.ts";
import { type Live, Site } from "./site.ts";
import { SiteClock } from "./site-clock.ts";
import { type Event, newTimeline, replay, seriesStepOf } from "./timeline.ts";
import { type EngineArrival, newVehicle, recordOf, type Vehicle } from "./vehicle.ts";
import { WaitQueue } from "./wait-queue.ts";

export { POLICIES, type Policy, type PolicyId, policyById } from "./policies.ts";
export type { PolicyResult } from "./results.ts";

export interface SimulateOptions {
  /** Called once per vehicle when its visit is settled (in settle order, not arrival order). */
  onSession?: (r: SessionRecord) => void;
}

const DAY_MIN = 24 * 60;

/** Replays the day under one policy. */
export function simulate(
  scenario: Scenario,
  arrivals: readonly Arrival[],
  policy: Policy,
  options: SimulateOptions = {},
): PolicyResult {
  const random = new Random(scenario.seed + 7919);
  const evses = scenario.evsesPerSite ?? Number.POSITIVE_INFINITY;
  const sites = scenario.substations.map((s, i) => new Site(s.id, i, s.capacityKw, evses));
  const byId = new Map(sites.map((s) => [s.id, s]));
  const stations = new Stations(sites);
  const taper = scenario.taper;
  const lazy = policy.share === "max" && !taper;
  const byClass = policy.share === "water" && !taper;
  for (const s of sites) {
    s.lazy = lazy;
    s.books = byClass ? new ClassBooks() : null;
  }
  const events = newTimeline(scenario, DAY_MIN, arrivals);
  const clock = new SiteClock(sites.length);
  // The same indexed heap, keyed by minus each site's headroom (sites with an EVSE free): the waiters'
  // question "where is the most room" in O(1), not O(sites), on every freed kW.
  const room = new SiteClock(sites.length);
  const touch = (site: Site) =>
    room.set(site.index, site.freeEvse ? -site.headroomKw : Number.POSITIVE_INFINITY);
  for (const s of sites) touch(s);
  /** Whether any site has an EVSE free: those are the sites `room` holds. O(1), where a scan is O(sites). */
  const evseFree = () => room.peek() !== undefined;

  const queue = new WaitQueue();
  const queueSeries: number[] = [];
  const tally = new Tally();
  let seq = 0;

  const settle = (v: Vehicle) => {
    const record = recordOf(v, !v.boundSite && !evseFree());
    tally.add(record, v.priority, v.admittedMin === null ? null : v.admittedMin - v.a.arriveMin);
    options.onSession?.(record);
  };

  /** New shares at a site after any change, and its next wake-up (a session full, a crossing, a taper step). */
  const reshare = (site: Site, t: number) => {
    if (lazy) return; // nobody's power changes but the one starting or stopping (start, stop)
    if (taper) site.taperCaps(taper);
    // LLF (compared only) waits a gap after any re-share; the deadline rule as the substation (Site.holdMin).
    const holdMin = policy.share === "llf" ? scenario.reshareGapMin : site.holdMin(t, scenario.reshareGapMin);
    const crossMin = byClass
      ? Number.POSITIVE_INFINITY
      : shareSite(policy.share, site, site.rows, site.live, t, holdMin);
    const next = site.settleShares(t);
    const stepMin = taper && site.live.length > 0 ? taper.stepMin : Number.POSITIVE_INFINITY;
    clock.set(site.index, Math.min(next, site.timedAt(t + Math.min(Math.max(holdMin, crossMin), stepMin))));
  };

  const start = (v: Vehicle, site: Site, t: number) => {
    site.advance(t);
    const live: Live = {
      v,
      minKw: v.a.minKw,
      capKw: taperedMaxKw(taper, v.a, v.deliveredKwh),
      weight: policy.priorities ? PRIORITY_WEIGHT[v.priority] : 1,
      leftKwh: Math.max(0, v.a.wantKwh - v.deliveredKwh),
      departMin: v.a.departMin,
      seq: seq++,
      allocKw: 0,
      index: 0,
      sinceMin: t,
    };
    site.add(live);
    if (!v.departScheduled) events.push({ t: v.a.departMin, order: 1, kind: "depart", v });
    v.departScheduled = true;
    v.live = live;
    v.site = site;
    v.state = "charging";
    if (!v.boundSite && !v.holdsEvse) {
      site.evsesHeld += 1;
      v.holdsEvse = true;
    }
    touch(site);
    v.admittedMin ??= t;
    v.waitedMin = t - v.waitFromMin;
    if (lazy) events.push({ t: site.startLazy(live, t), order: 2, kind: "full", live });
    else reshare(site, t);
  };

  /** It stops drawing (its site advanced to `t` first). */
  const stop = (v: Vehicle, t: number) => {
    const site = v.site as Site;
    site.remove(v.live as Live);
    if (lazy) site.stopLazy(v.live as Live, t);
    v.live = null;
    touch(site);
  };

  const releaseEvse = (v: Vehicle): boolean => {
    if (!v.holdsEvse) return false;
    (v.site as Site).evsesHeld -= 1;
    v.holdsEvse = false;
    touch(v.site as Site);
    return true;
  };

  /** Waits for power or an EVSE, up to maxWaitMin and never past its departure; else it leaves now. */
  const waitOrLeave = (v: Vehicle, t: number) => {
    v.waitFromMin = t;
    const evseBusy = !v.boundSite && !evseFree();
    const mayWait = !(evseBusy && scenario.whenEvsesBusy === "leave");
    if (mayWait && scenario.maxWaitMin > 0 && v.a.departMin > t) {
      v.state = "waiting";
      v.waitEpoch += 1;
      queue.push(v);
      const until = Math.min(v.a.departMin, t + scenario.maxWaitMin);
      events.push({ t: until, order: 3, kind: "giveUp", v, epoch: v.waitEpoch });
    } else {
      v.state = "gone";
      settle(v);
    }
  };

  const tryStart = (v: Vehicle, t: number): boolean => {
    const site = chooseSite(policy, sites, v, random);
    if (!site) return false;
    start(v, site, t);
    return true;
  };

  /** Freed power (or an EVSE) goes to waiters, higher class first, then first come. */
  const serve = (t: number) => {
    let general: number | null = null;
    queue.serve(
      (bound) => {
        if (bound) return headroomKw(policy, sites, bound);
        general ??= policy.controlled
          ? -(room.peek()?.t ?? Number.POSITIVE_INFINITY)
          : headroomKw(policy, sites, null);
        return general;
      },
      (v) => {
        general = null;
        // One due to leave now is not started (its give-up settles it); one that fits nowhere stays queued.
        if (v.a.departMin <= t || !tryStart(v, t)) return false;
        queue.left();
        return true;
      },
    );
  };

  /** A car that is full: it stops drawing (and is settled) but holds its EVSE until it leaves. */
  const finish = (v: Vehicle, t: number) => {
    stop(v, t);
    v.state = "done";
    settle(v);
  };

  /** A waiting car leaves the queue unserved (its departure, or it gave up): settled now. */
  const leaveQueue = (v: Vehicle, t: number) => {
    queue.left();
    v.state = "gone";
    v.waitedMin = t - v.waitFromMin;
    settle(v);
  };

  const depart = (v: Vehicle, t: number) => {
    if (v.state === "waiting") leaveQueue(v, t);
    else if (v.state === "charging") {
      const site = v.site as Site;
      site.advance(t);
      stop(v, t);
      v.state = "gone";
      releaseEvse(v);
      settle(v);
      reshare(site, t);
      serve(t);
    } else if (releaseEvse(v)) serve(t);
  };

  /** A completion or a re-share due: the full cars stop, the rest share again. */
  const step = (site: Site, t: number) => {
    site.advance(t);
    const full = site.full(taper);
    for (const l of full) finish(l.v, t);
    reshare(site, t);
    if (full.length > 0) serve(t);
  };

  /** The operator's limit changes at a site; under a lower one the newest sessions are shed. */
  const limit = (site: Site, share: number | null, t: number) => {
    site.advance(t);
    site.setLimit(share === null ? null : site.capacityKw * share);
    touch(site);
    if (policy.controlled) {
      // The substation's own rule: shed the newest sessions until the minimums fit; they wait again.
      const newestFirst = [...site.live].sort((x, y) => y.seq - x.seq);
      const shed = curtailSite(
        site,
        newestFirst.map((l) => l.minKw),
        site.committedMinKw,
      );
      for (const l of newestFirst.slice(0, shed)) {
        stop(l.v, t);
        releaseEvse(l.v);
        l.v.curtailed += 1;
        tally.curtailedSessions += 1;
        waitOrLeave(l.v, t);
      }
    }
    reshare(site, t);
  };

  const handle = (e: Event) => {
    const t = e.t;
    switch (e.kind) {
      case "depart":
        depart(e.v, t);
        break;
      case "full": {
        const v = e.live.v;
        if (v.live !== e.live) break;
        (v.site as Site).advance(t);
        finish(v, t);
        serve(t);
        break;
      }
      case "giveUp": {
        const v = e.v;
        if (v.state === "waiting" && v.waitEpoch === e.epoch) leaveQueue(v, t);
        break;
      }
      case "limit":
        for (const id of e.sites) limit(byId.get(id) as Site, e.share, t);
        serve(t);
        break;
      case "sample": {
        for (const s of sites) {
          s.powerSeries.push(s.drawnKw);
          s.limitSeries.push(s.limitKw);
        }
        queueSeries.push(queue.size);
        break;
      }
    }
  };

  const arrive = (a: EngineArrival) => {
    const bound = a.stationId === undefined ? null : stations.siteOf(a.stationId);
    const v = newVehicle(a, policy.priorities, bound);
    if (!tryStart(v, a.arriveMin)) waitOrLeave(v, a.arriveMin);
  };

  replay(
    { events, clock, arrivals: arrivals as readonly EngineArrival[] },
    {
      arrive,
      event: handle,
      wake: (i, t) => {
        clock.set(i, Number.POSITIVE_INFINITY);
        step(sites[i] as Site, t);
      },
    },
  );
  for (const s of sites) s.advance(Math.max(s.atMin, DAY_MIN));
  return tally.result(policy, sites, queueSeries, seriesStepOf(scenario, arrivals, DAY_MIN));
}
