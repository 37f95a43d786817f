/** Which site a car goes to under a policy (undefined: none may take it now). */
import { admitTo, bestCandidate } from "@evgrid/policy";
import { byArrival, type Random } from "./arrivals.ts";
import type { Policy } from "./policies.ts";
import type { Site } from "./site.ts";
import type { EngineArrival, Vehicle } from "./vehicle.ts";

/**
 * A car tied to a station charges at that station's site (its own EVSE); others go where the policy says,
 * among the sites with an EVSE free. Controlled policies admit on minimums (`admitTo`, the substation's
 * rule); the original ones send every car somewhere.
 */
export function chooseSite(
  policy: Policy,
  sites: readonly Site[],
  v: Vehicle,
  random: Random,
): Site | undefined {
  const admits = (s: Site) => !policy.controlled || admitTo(s, s.committedMinKw, v.a.minKw).admitted;
  if (v.boundSite) return admits(v.boundSite) ? v.boundSite : undefined;
  if (policy.choice !== "evgrid") {
    const best = leastBy(sites, policy.choice === "fewest-sessions" ? (s) => s.live.length : utilization);
    return best && admits(best) ? best : undefined;
  }
  const site = bestCandidate(
    sites,
    (s) => (s.freeEvse ? s.view : null),
    v.a,
    () => random.next(),
  );
  return site && admits(site) ? site : undefined;
}

/** The most minimum power a waiting car could still be admitted with (-Infinity: nowhere). */
export function headroomKw(policy: Policy, sites: readonly Site[], bound: Site | null): number {
  if (bound) return policy.controlled ? bound.headroomKw : Number.POSITIVE_INFINITY;
  let best = Number.NEGATIVE_INFINITY;
  for (const s of sites) {
    if (!s.freeEvse) continue;
    if (!policy.controlled) return Number.POSITIVE_INFINITY;
    if (s.headroomKw > best) best = s.headroomKw;
  }
  return best;
}

const utilization = (s: Site) => s.drawnKw / s.capacityKw;

/** The site with an EVSE free that scores least (the first of equals). */
function leastBy(sites: readonly Site[], score: (s: Site) => number): Site | undefined {
  let best: Site | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const s of sites) {
    if (!s.freeEvse) continue;
    const x = score(s);
    if (!best || x < bestScore) {
      best = s;
      bestScore = x;
    }
  }
  return best;
}

/** A station is one EVSE of one site: stations are dealt to the sites in turn, in order of first appearance. */
export class Stations<S> {
  private readonly site = new Map<string, S>();
  constructor(private readonly sites: readonly S[]) {}

  siteOf(stationId: string): S {
    let s = this.site.get(stationId);
    if (s === undefined) {
      s = this.sites[this.site.size % this.sites.length] as S;
      this.site.set(stationId, s);
    }
    return s;
  }
}

/**
 * Each car's site when the data names every car's station: its station's, dealt as the engine deals them (in
 * arrival order), so the offline optimum holds each car where it can charge. Undefined when a car names none.
 */
export function stationPlacement(
  arrivals: readonly EngineArrival[],
  siteIds: readonly string[],
): Map<number, string> | undefined {
  if (arrivals.length === 0 || arrivals.some((a) => a.stationId === undefined)) return undefined;
  const stations = new Stations(siteIds);
  const placement = new Map<number, string>();
  for (const a of [...arrivals].sort(byArrival)) placement.set(a.id, stations.siteOf(a.stationId as string));
  return placement;
}
