import type { SubstationLoad } from "@evgrid/contract";
import { backoffDelayMs, type Scheduler, systemScheduler } from "@evgrid/kit";
import { closeLink, describeFailure, linkOf } from "@evgrid/link";
import { bestCandidate, projectedUtilizationAt, rankSubstations } from "@evgrid/policy";
import { withoutTracing } from "@evgrid/telemetry";
import { LinkGroups } from "./link-groups.ts";
import {
  candidateView,
  type GridViewOptions,
  inForce,
  isCandidate,
  largestCapacity,
  type Member,
  type MemberRanking,
  newMember,
  refreshCandidate,
  type SubstationStatus,
} from "./view-member.ts";

export type { GridViewOptions, Member, MemberRanking, SubstationStatus } from "./view-member.ts";

/**
 * The balancer's picture of the grid: each substation's last authoritative load (from the background
 * refresh or from the load every startSession answer carries) plus the assignments we have sent it that it
 * has not answered yet. Choosing reads only this, so a dispatch costs no getLoad fan-out.
 */
export class GridView {
  readonly members: Member[];
  private readonly client: GridViewOptions["client"];
  private readonly maxBackoffMs: number;
  private refreshMs = 500;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private next: { cancel(): void } | undefined;
  private running = false;
  /** Capacity in force over the members taking sessions, kept as members change (O(1) to read). */
  private inForceKw = 0;
  /** The largest physical capacity of any member heard from; recomputed only when capacities change. */
  private largestKw = 0;
  private readonly byIdMap = new Map<string, Member>();
  private readonly groups = new LinkGroups();
  /** Told after every background refresh (the wait queue checks for freed power). */
  onRefreshed: () => void = () => {};

  constructor(opts: GridViewOptions) {
    this.now = opts.now ?? Date.now;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.random = opts.random ?? Math.random;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.client = opts.client;
    this.members = opts.urls.map((url) => this.newMember(url, false));
  }

  private newMember(url: string, registered: boolean): Member {
    return newMember(url, registered, this.client);
  }

  /**
   * A substation announces itself (and keeps doing so: the heartbeat). A new one joins rotation as soon
   * as it answers getLoad, here and now rather than at the next refresh.
   */
  async register(url: string): Promise<Member> {
    const normalized = url.replace(/\/$/, "");
    let member = this.members.find((m) => m.url === normalized);
    if (!member) {
      member = this.newMember(normalized, true);
      this.members.push(member);
    }
    member.lastHeartbeatMs = this.now();
    if (!member.healthy) await withoutTracing(() => this.probe(member as Member));
    return member;
  }

  /** A registered substation leaves (graceful shutdown); static members stay configured. */
  deregister(url: string): boolean {
    const i = this.members.findIndex((m) => m.url === url.replace(/\/$/, "") && m.registered);
    if (i < 0) return false;
    const [gone] = this.members.splice(i, 1);
    if (gone) {
      // A link that carried other members' calls closes once they are answered.
      if (this.groups.leave(gone)) gone.client[linkOf]?.closeWhenIdle();
      else gone.client[closeLink]();
      this.inForceKw -= inForce(gone);
      if (gone.id !== null && this.byIdMap.get(gone.id) === gone) this.byIdMap.delete(gone.id);
      this.largestKw = largestCapacity(this.members);
    }
    return true;
  }

  /** Registered members whose heartbeats stopped more than `timeoutMs` ago leave the grid. */
  expire(timeoutMs: number): string[] {
    const cutoff = this.now() - timeoutMs;
    const gone = this.members.filter((m) => m.registered && m.lastHeartbeatMs < cutoff).map((m) => m.url);
    for (const url of gone) this.deregister(url);
    return gone;
  }

  /**
   * Asks every substation for its load, in parallel; a failure marks that one unhealthy until it answers.
   * Not traced: two spans per substation twice a second would bury the requests in Tempo (RED metrics stay).
   */
  async refresh(): Promise<void> {
    await withoutTracing(() => this.refreshAll());
    this.onRefreshed();
  }

  private async refreshAll(): Promise<void> {
    const nowMs = this.now();
    // A failing substation waits out its back-off (nextProbeAtMs is 0 for the others).
    await Promise.all(this.members.filter((m) => nowMs >= m.nextProbeAtMs).map((m) => this.probe(m)));
  }

  /** Asks one substation for its load: it is healthy with that load, or failed with the reason. */
  private async probe(m: Member): Promise<void> {
    const failuresWhenSent = m.failures;
    try {
      const routed = m.route !== undefined;
      const load = this.groups.answered(m, await m.client.getLoad.query(), routed);
      // A call failed while this probe was on its way: keep the failure (and its back-off); the load is
      // still news, but only a probe sent after the failure may put the substation back in rotation.
      if (m.failures !== failuresWhenSent && !m.healthy) {
        this.change(m, () => {
          m.load = load;
          m.receivedAtMs = this.now();
        });
        return;
      }
      this.record(m, load);
    } catch (err) {
      this.markFailed(m, describeFailure(err));
    }
  }

  /** Refreshes now and then every `intervalMs`, never overlapping itself. */
  async start(intervalMs: number): Promise<void> {
    this.running = true;
    this.refreshMs = intervalMs;
    const loop = async () => {
      await this.refresh();
      if (this.running) this.next = this.scheduler.schedule(() => void loop(), intervalMs);
    };
    await loop();
  }

  /** Stops refreshing, and closes every link to the substations. */
  stop(): void {
    this.running = false;
    this.next?.cancel();
    for (const m of this.members) m.client[closeLink]();
  }

  /** Keeps the newer of two snapshots: higher version, or later measurement (the substation restarted). */
  record(m: Member, load: SubstationLoad): void {
    this.change(m, () => {
      const current = m.load;
      const newer =
        current === null ||
        current.substationId !== load.substationId ||
        load.version > current.version ||
        load.measuredAtMs > current.measuredAtMs;
      if (newer) {
        m.load = load;
        m.receivedAtMs = this.now();
      }
      if (m.id !== load.substationId) {
        if (m.id !== null && this.byIdMap.get(m.id) === m) this.byIdMap.delete(m.id);
        m.id = load.substationId;
      }
      this.byIdMap.set(m.id, m);
      m.healthy = true;
      m.lastError = null;
      m.consecutiveFailures = 0;
      m.nextProbeAtMs = 0;
    });
  }

  markFailed(m: Member, why: string): void {
    this.groups.leave(m);
    this.change(m, () => {
      m.healthy = false;
      m.lastError = why;
      m.failures += 1;
      m.consecutiveFailures += 1;
      // Out of rotation at once; probed again after 1, 2, 4 ... refresh intervals (jittered: other balancers).
      const backoff = { delayMs: this.refreshMs, maxDelayMs: this.maxBackoffMs, random: this.random };
      m.nextProbeAtMs = this.now() + backoffDelayMs(m.consecutiveFailures - 1, backoff);
    });
  }

  /** Power in force over the substations taking sessions: what quota shares are shares of. O(1). */
  get capacityInForceKw(): number {
    return Math.max(0, this.inForceKw);
  }

  /** The largest physical capacity of any substation heard from (0 if none yet). O(1). */
  get largestCapacityKw(): number {
    return this.largestKw;
  }

  /** Applies a change to one member, keeping the grid's sums right. */
  private change(m: Member, mutate: () => void): void {
    const capacityBefore = m.load?.capacityKw;
    this.inForceKw -= inForce(m);
    mutate();
    this.inForceKw += inForce(m);
    refreshCandidate(m);
    if (m.load?.capacityKw !== capacityBefore) this.largestKw = largestCapacity(this.members);
  }

  /** Healthy members whose load we know. */
  candidates(): Member[] {
    return this.members.filter(isCandidate);
  }

  /**
   * The substation the request should go to, by the pure ranking policy over what this view knows
   * (loads plus in-flight assignments), leaving out `except`; undefined if none has room.
   */
  best(req: { minKw: number; maxKw: number }, except: ReadonlySet<Member> = NONE): Member | undefined {
    // The ranking's first choice in one pass: a dispatch costs O(N) cheap steps, not a sort of N, each
    // reading the member's candidate view as its changes left it (nothing copied per dispatch).
    const view = except.size === 0 ? candidateOf : (m: Member) => (except.has(m) ? null : m.candidate);
    return bestCandidate(this.members, view, req, this.random);
  }

  /** The pure ranking policy over what this view knows, in members, leaving out `except`. */
  rank(req: { minKw: number; maxKw: number }, except: ReadonlySet<Member> = new Set()): MemberRanking {
    const open = this.candidates().filter((m) => !except.has(m));
    const byUrl = new Map(open.map((m) => [m.url, m]));
    const ranking = rankSubstations(open.map(candidateView), req, this.random);
    return {
      feasible: ranking.feasible.flatMap((c) => byUrl.get(c.id) ?? []),
      full: ranking.full.flatMap((f) => {
        const member = byUrl.get(f.id);
        return member ? [{ member, reason: f.reason }] : [];
      }),
    };
  }

  /** Whether this member could take the request by what the view knows (healthy, not draining, room). */
  hasRoomAt(m: Member, req: { minKw: number; maxKw: number }): boolean {
    return isCandidate(m) && projectedUtilizationAt(candidateView(m), req) !== null;
  }

  byId(substationId: string): Member | undefined {
    return this.byIdMap.get(substationId);
  }

  beginAssignment(m: Member, req: { minKw: number; maxKw: number }): void {
    m.inflight += 1;
    m.inflightMinKw += req.minKw;
    m.inflightMaxKw += req.maxKw;
    refreshCandidate(m);
  }

  endAssignment(m: Member, req: { minKw: number; maxKw: number }): void {
    m.inflight -= 1;
    // Reset exactly at zero so float drift cannot leave phantom kilowatts behind.
    m.inflightMinKw = m.inflight === 0 ? 0 : m.inflightMinKw - req.minKw;
    m.inflightMaxKw = m.inflight === 0 ? 0 : m.inflightMaxKw - req.maxKw;
    refreshCandidate(m);
  }

  status(): SubstationStatus[] {
    const nowMs = this.now();
    return this.members.map((m) => ({
      url: m.url,
      substationId: m.id,
      healthy: m.healthy,
      load: m.load,
      ageMs: m.load ? nowMs - m.receivedAtMs : null,
      inflight: m.inflight,
      lastError: m.lastError,
      consecutiveFailures: m.consecutiveFailures,
      nextProbeInMs: m.healthy ? null : Math.max(0, Math.round(m.nextProbeAtMs - nowMs)),
      registered: m.registered,
    }));
  }
}

const NONE: ReadonlySet<Member> = new Set();
const candidateOf = (m: Member) => m.candidate;
