/** A member of the balancer's view of the grid (view.ts), what operators see of it, and what it counts for. */
import type { SubstationLoad } from "@evgrid/contract";
import type { Scheduler } from "@evgrid/kit";
import type { InternalClient, LinkRoute } from "@evgrid/link";
import type { CandidateView } from "@evgrid/policy";
import type { SubstationRouter } from "@evgrid/substation";

export interface Member {
  url: string;
  client: InternalClient<SubstationRouter>;
  /** The link group its getLoad named (link-groups.ts), null if none or out of it. */
  linkGroup: string | null;
  /** Another member's link its calls go on (same group), or undefined: its own. */
  route: LinkRoute | undefined;
  /** Learned from the substation's own getLoad answer. */
  id: string | null;
  load: SubstationLoad | null;
  receivedAtMs: number;
  healthy: boolean;
  lastError: string | null;
  consecutiveFailures: number;
  /** Not probed before this time while out of rotation (exponential back-off). */
  nextProbeAtMs: number;
  /** Failures so far (never reset): an answer to a probe sent before the last must not restore it. */
  failures: number;
  inflight: number;
  inflightMinKw: number;
  inflightMaxKw: number;
  /**
   * What the choice reads of it (its load and in-flight assignments), while it is a candidate; else null.
   * Kept by the view at each change (refreshCandidate), so a dispatch reads it without copying.
   */
  candidate: CandidateView | null;
  /** Joined by registering (not from the static list); leaves when its heartbeats stop. */
  registered: boolean;
  lastHeartbeatMs: number;
}

export interface GridViewOptions {
  urls: readonly string[];
  /**
   * Builds the typed client for one substation (timeouts and tracing are the caller's choice); `route` is
   * the link its calls go on now, if not its own (internalClient's `route`).
   */
  client: (url: string, route: () => LinkRoute | undefined) => InternalClient<SubstationRouter>;
  /** Longest wait between probes of a failing substation. */
  maxBackoffMs?: number;
  now?: () => number;
  /** Schedules the next refresh (tests drive it by hand). */
  scheduler?: Scheduler;
  random?: () => number;
}

/** One member of the view, as operators see it (listSubstations). */
export interface SubstationStatus {
  url: string;
  /** null until the substation has answered `getLoad` once. */
  substationId: string | null;
  healthy: boolean;
  load: SubstationLoad | null;
  /** How old `load` is, in ms, when this status was produced. */
  ageMs: number | null;
  /** Dispatches sent to it whose answers have not arrived yet. */
  inflight: number;
  lastError: string | null;
  /** Failed calls in a row; a failing substation is probed again after an exponential back-off. */
  consecutiveFailures: number;
  /** When it will be probed next, if it is out of rotation. */
  nextProbeInMs: number | null;
  /** Joined by registering itself (rather than from SUBSTATION_URLS). */
  registered: boolean;
}

/** The view's ranking, in members: who can take the request (best first), and who is full and why. */
export interface MemberRanking {
  feasible: Member[];
  full: { member: Member; reason: "INSUFFICIENT_CAPACITY" | "OPERATOR_LIMIT" }[];
}

export const isCandidate = (m: Member) => m.healthy && m.load !== null && !m.load.draining;

export const candidateView = (m: Member): CandidateView => fillCandidateView(emptyCandidateView(), m);

/**
 * `view` filled with this member's numbers: the member's own kept view (refreshCandidate), refilled in place
 * at each change, so a dispatch over N substations reads N views and allocates none.
 */
export function fillCandidateView(view: CandidateView, m: Member): CandidateView {
  const load = m.load as SubstationLoad;
  view.id = m.url;
  view.capacityKw = load.capacityKw;
  view.effectiveCapacityKw = load.effectiveCapacityKw;
  view.committedMinKw = load.committedMinKw;
  view.demandKw = load.demandKw;
  view.inflightMinKw = m.inflightMinKw;
  view.inflightMaxKw = m.inflightMaxKw;
  return view;
}

/** Brings `m.candidate` up to date after a change to it (its load, health or in-flight assignments). */
export function refreshCandidate(m: Member): void {
  m.candidate = isCandidate(m) ? fillCandidateView(m.candidate ?? emptyCandidateView(), m) : null;
}

export const emptyCandidateView = (): CandidateView => ({
  id: "",
  capacityKw: 0,
  effectiveCapacityKw: 0,
  committedMinKw: 0,
  demandKw: 0,
  inflightMinKw: 0,
  inflightMaxKw: 0,
});

/** What a member adds to the capacity in force: its effective capacity, if it takes sessions. */
export const inForce = (m: Member) =>
  m.healthy && m.load && !m.load.draining ? m.load.effectiveCapacityKw : 0;

export const largestCapacity = (members: readonly Member[]) =>
  members.reduce((max, m) => Math.max(max, m.load?.capacityKw ?? 0), 0);

/** A member not heard from yet; its client's calls go on its own link until it joins a link group. */
export function newMember(url: string, registered: boolean, client: GridViewOptions["client"]): Member {
  const m: Member = {
    url,
    client: client(url, () => m.route),
    linkGroup: null,
    route: undefined,
    id: null,
    load: null,
    receivedAtMs: 0,
    healthy: false,
    lastError: "not contacted yet",
    consecutiveFailures: 0,
    nextProbeAtMs: 0,
    failures: 0,
    inflight: 0,
    inflightMinKw: 0,
    inflightMaxKw: 0,
    candidate: null,
    registered,
    lastHeartbeatMs: 0,
  };
  return m;
}
