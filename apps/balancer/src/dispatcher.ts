import {
  type DispatchAttempt,
  type DispatchRequest,
  errorDataOf,
  MAX_WAIT_S,
  OPERATOR,
  type RefusalDetails,
  reasons,
  refusalDetailsSchema,
  type Session,
  type SessionUpdate,
  substationOfSession,
} from "@evgrid/contract";
import {
  classifyCallFailure,
  deadlineExceeded,
  describeFailure,
  earliest,
  GridError,
  gridFull,
  relayUpstreamError,
  subscriptionValues,
} from "@evgrid/kit";
import {
  checkSessionQuota,
  exceedsEverySite,
  firstStop,
  nextStepAfter,
  type SessionQuota,
  type StartFailure,
  takesOutOfRotation,
} from "@evgrid/policy";
import { annotate, annotateGrant, annotateRequest, attr } from "@evgrid/telemetry";
import { OwnerLedger } from "./ledger.ts";
import { DispatchMemory } from "./memory.ts";
import type { Claim, SharedState } from "./shared-state.ts";
import type { GridView, Member } from "./view.ts";
import { isGridFull, WaitQueue } from "./wait-queue.ts";

/** The balancer's answer to `dispatch` (clients see it as the router's output type). */
export interface DispatchResult {
  session: Session;
  /** The session already existed for this idempotency key. */
  replayed: boolean;
  /** How many substations were asked before one admitted the session (1 = first choice). */
  tries: number;
  /** Substations that refused or failed before the one that admitted. */
  attempts: DispatchAttempt[];
}

export interface DispatchReport {
  outcome: "admitted" | "grid_full" | "unavailable" | "timeout" | "deadline" | "quota" | "invalid";
  substationId: string | null;
  tries: number;
}

export interface DispatcherOptions {
  /** Substations asked at most per request. */
  maxTries: number;
  /** The whole dispatch, all tries included. */
  deadlineMs: number;
  /** One startSession call at most (less if the deadline is nearer). */
  callTimeoutMs: number;
  /** What one caller may hold (operators: no limit). */
  quota: SessionQuota;
  /** Requests waiting for capacity: in all, and per caller. */
  maxWaiting: number;
  maxWaitingPerOwner: number;
  /** Idempotency and one-session-per-vehicle across this balancer's dispatches. */
  memory?: DispatchMemory;
  /** Claims shared with other balancer replicas (REDIS_URL); none: this replica's memory alone. */
  shared?: SharedState;
  now?: () => number;
  /** Told how every dispatch ended (metrics). */
  report?: (report: DispatchReport) => void;
}

const outcomeOf: Record<string, DispatchReport["outcome"]> = {
  [reasons.GRID_FULL]: "grid_full",
  [reasons.NO_SUBSTATION_AVAILABLE]: "unavailable",
  [reasons.SUBSTATION_TIMEOUT]: "timeout",
  [reasons.DEADLINE_EXCEEDED]: "deadline",
  [reasons.QUOTA_EXCEEDED]: "quota",
  [reasons.WAIT_QUEUE_FULL]: "quota",
};

/** A caller over its quota is re-checked against its substations at most this often. */
const RECONCILE_EVERY_MS = 2000;

/**
 * The balancer's whole dispatch flow, in one place: refuse what can never fit, hold each caller to its
 * quotas, send the request where the vehicle gets the most power (retrying elsewhere only when that is safe),
 * queue it for freed power if it said it would wait, and remember what is needed for retries. It owns the
 * view of the grid, the dispatch memory, the owner ledger and the wait queue; the router only delegates.
 */
export class Dispatcher {
  readonly memory: DispatchMemory;
  private readonly ledger: OwnerLedger;
  private readonly waiting: WaitQueue;
  private readonly now: () => number;
  private readonly reconciledAtMs = new Map<string, number>();
  /** Each request's caller's deadline (epoch ms), for as long as the request is in flight or waiting. */
  private readonly deadlines = new WeakMap<DispatchRequest, number>();

  constructor(
    readonly view: GridView,
    private readonly opts: DispatcherOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.memory = opts.memory ?? new DispatchMemory();
    this.ledger = new OwnerLedger(this.now);
    this.waiting = new WaitQueue({
      // A pinned request (a vehicle at a charger) waits for its own substation only.
      hasRoomFor: (req) => {
        if (req.substationId === undefined) return view.best(req) !== undefined;
        const pinned = view.byId(req.substationId);
        return pinned !== undefined && view.hasRoomAt(pinned, req);
      },
      dispatch: (req) => this.admit(req),
      abandon: (result) => void this.stopQuietly(result.session),
      maxWaiting: opts.maxWaiting,
      maxPerOwner: opts.maxWaitingPerOwner,
      ...(opts.shared ? { order: opts.shared.waitOrder(crypto.randomUUID(), MAX_WAIT_S * 1000) } : {}),
    });
    view.onRefreshed = () => void this.waiting.pump();
  }

  /** The store shared with other replicas, if any. */
  get sharedState(): SharedState | undefined {
    return this.opts.shared;
  }

  /** Requests waiting for capacity right now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * `dispatch`: a session for this request now, or (with `waitS`) once power frees up; never once the
   * caller's deadline (`deadlineAtMs`, epoch ms) has passed.
   */
  async request(
    req: DispatchRequest,
    signal?: AbortSignal,
    deadlineAtMs: number | null = null,
  ): Promise<DispatchResult> {
    annotateRequest(req);
    if (deadlineAtMs !== null) this.deadlines.set(req, deadlineAtMs);
    const largestKw = this.view.largestCapacityKw;
    if (largestKw > 0 && exceedsEverySite([largestKw], req.minKw)) {
      this.opts.report?.({ outcome: "invalid", substationId: null, tries: 0 });
      throw new GridError(
        "UNPROCESSABLE_CONTENT",
        reasons.EXCEEDS_SITE_CAPACITY,
        `a ${req.minKw} kW minimum is more than any substation of this grid can supply (largest: ${largestKw} kW)`,
        { field: "minKw" },
      );
    }
    // Earlier waiters go first: a new waiting request takes its place at the back.
    if (req.waitS !== undefined && this.waiting.length > 0) return this.waiting.wait(req, signal);
    try {
      return await this.admit(req);
    } catch (err) {
      if (req.waitS !== undefined && isGridFull(err)) return this.waiting.wait(req, signal);
      throw err;
    }
  }

  /** `getSession`: with `owner`, only that owner's session (the substation checks). */
  getSession(ref: { sessionId: string; owner?: string | undefined }): Promise<Session> {
    const member = this.ownerOf(ref.sessionId);
    return member.client.getSession.query(ref).catch((err: unknown) => {
      throw relayUpstreamError(err, member.id ?? member.url);
    });
  }

  /**
   * A vehicle's active session anywhere in the grid, or null: from the substation this balancer sent it to,
   * else by asking every healthy substation (at most one has it). The OCPP gateway asks when a vehicle plugs in.
   */
  async findVehicleSession(vehicleId: string): Promise<Session | null> {
    const home = (await this.opts.shared?.vehicleHome(vehicleId)) ?? this.memory.vehicleHome(vehicleId);
    const homeMember = home === undefined ? undefined : this.view.byId(home);
    const members = homeMember?.healthy ? [homeMember] : this.view.members.filter((m) => m.healthy);
    const found = await Promise.all(
      members.map((m) => m.client.findSession.query({ vehicleId }).catch(() => null)),
    );
    const session = found.find((s) => s !== null) ?? null;
    if (session === null && homeMember?.healthy) {
      // Memory may be stale (the session ended behind us): the others are asked before saying none.
      this.memory.forgetVehicle(vehicleId);
      await this.opts.shared?.forgetVehicle(vehicleId);
      return this.findVehicleSession(vehicleId);
    }
    return session;
  }

  /**
   * One session's power, energy and end as they change, relayed from its substation's own subscription
   * (with `owner`, only that owner's session). Ends when the session ends or the watcher stops.
   */
  async *watchSession(
    ref: { sessionId: string; owner?: string | undefined },
    signal?: AbortSignal,
  ): AsyncGenerator<SessionUpdate> {
    const member = this.ownerOf(ref.sessionId);
    try {
      yield* subscriptionValues<SessionUpdate>((o) => member.client.watchSession.subscribe(ref, o), signal);
    } catch (err) {
      throw relayUpstreamError(err, member.id ?? member.url);
    }
  }

  /** `stopSession`: ends it now and lets the waiters have its power. */
  async stopSession(ref: {
    sessionId: string;
    owner?: string | undefined;
    reason?: "stopped" | "charger_offline";
  }): Promise<Session> {
    const member = this.ownerOf(ref.sessionId);
    try {
      const { session, load } = await member.client.stopSession.mutate(ref);
      this.view.record(member, load);
      this.memory.forgetVehicle(session.vehicleId);
      await this.opts.shared?.forgetVehicle(session.vehicleId);
      this.ledger.remove(session.sessionId);
      void this.waiting.pump();
      return session;
    } catch (err) {
      throw relayUpstreamError(err, member.id ?? member.url);
    }
  }

  /** What every request goes through, directly or from the queue: its caller's quota, then the dispatch. */
  private async admit(req: DispatchRequest): Promise<DispatchResult> {
    // A retry of a request already made asks for nothing new: it is answered, not counted again.
    const counted = req.owner !== OPERATOR && !this.memory.isRetry(req);
    const release = counted ? await this.reserveWithinQuota(req) : () => {};
    try {
      const result = await this.dispatch(req);
      if (result.session.status === "active" && result.session.owner !== OPERATOR)
        this.ledger.add(result.session);
      return result;
    } finally {
      release();
    }
  }

  /**
   * Checks the caller's quota and, within it, reserves the request's place in the same synchronous step:
   * calls that arrive together (a batch, one frame of a link) cannot all pass the check before any of them
   * counts. Over the quota, the caller's sessions are reconciled first (async), then checked and reserved again.
   */
  private reserveWithinQuota(req: DispatchRequest): (() => void) | Promise<() => void> {
    const decide = () =>
      checkSessionQuota(
        this.ledger.usage(req.owner),
        req.minKw,
        this.opts.quota,
        this.view.capacityInForceKw,
      );
    const first = decide();
    if (first.ok) return this.ledger.reserve(req.owner, req.minKw);
    return (async () => {
      const decision = (await this.reconcile(req.owner)) ? decide() : first;
      if (decision.ok) return this.ledger.reserve(req.owner, req.minKw);
      throw this.overQuota(req, decision);
    })();
  }

  private overQuota(
    req: DispatchRequest,
    decision: Exclude<ReturnType<typeof checkSessionQuota>, { ok: true }>,
  ) {
    this.opts.report?.({ outcome: "quota", substationId: null, tries: 0 });
    const what =
      decision.quota === "active_sessions"
        ? `at most ${decision.limit} active sessions per caller`
        : `at most ${decision.limit * 100}% of the grid's capacity (${decision.limitKw.toFixed(1)} kW of minimums) per caller`;
    return new GridError("TOO_MANY_REQUESTS", reasons.QUOTA_EXCEEDED, `quota exceeded: ${what}`, {
      quota: decision.quota,
      limit: decision.limit,
      retryAfterS: this.ledger.retryAfterS(req.owner),
    });
  }

  /**
   * Asks the substations about the caller's sessions that may have ended early (stopped by an operator,
   * curtailed, energy reached sooner than expected), so an honest caller is not held to sessions it no
   * longer has. At most once per RECONCILE_EVERY_MS per caller; true if anything was learned.
   */
  private async reconcile(owner: string): Promise<boolean> {
    const nowMs = this.now();
    if (nowMs - (this.reconciledAtMs.get(owner) ?? 0) < RECONCILE_EVERY_MS) return false;
    this.reconciledAtMs.set(owner, nowMs);
    if (this.reconciledAtMs.size > 10_000) {
      for (const [o, at] of this.reconciledAtMs)
        if (nowMs - at >= RECONCILE_EVERY_MS) this.reconciledAtMs.delete(o);
    }
    const uncertain = this.ledger.uncertain(owner);
    const ended = await Promise.all(
      uncertain.map(async (sessionId) => {
        const member = this.view.byId(substationOfSession(sessionId));
        if (!member?.healthy) return false;
        try {
          return (await member.client.getSession.query({ sessionId })).status === "ended";
        } catch (err) {
          return errorDataOf(err)?.reason === reasons.SESSION_NOT_FOUND;
        }
      }),
    );
    ended.forEach((gone, i) => {
      const id = uncertain[i];
      if (gone && id !== undefined) this.ledger.remove(id);
    });
    return ended.some(Boolean);
  }

  /** A session was admitted for a caller that hung up while waiting: nobody will ever use it. */
  private async stopQuietly(session: Session): Promise<void> {
    await this.stopSession({ sessionId: session.sessionId }).catch(() => {});
  }

  private ownerOf(sessionId: string): Member {
    const substationId = substationOfSession(sessionId);
    const member = this.view.byId(substationId);
    if (!member) {
      throw new GridError(
        "NOT_FOUND",
        reasons.UNKNOWN_SUBSTATION,
        `no substation ${substationId} in this grid`,
      );
    }
    return member;
  }

  /**
   * One dispatch (coalesced per idempotency key here, claimed across replicas when state is shared), said on
   * the active span (the trace) and to the metrics.
   */
  private async dispatch(req: DispatchRequest): Promise<DispatchResult> {
    let run: DispatchRun | undefined;
    try {
      const result = await this.memory.coalesce(req, async () => {
        const callerDeadlineAtMs = this.deadlines.get(req) ?? null;
        const claim = this.opts.shared
          ? await this.opts.shared.claim(
              req,
              earliest(this.now() + this.opts.deadlineMs, callerDeadlineAtMs) as number,
            )
          : null;
        run = new DispatchRun(this.view, req, this.opts, this.now, claim, callerDeadlineAtMs);
        try {
          const r = await run.run(claim?.home ?? this.memory.homeOf(req));
          this.memory.remember(req, r.session);
          await claim?.finish({ at: r.session.substationId, vehicleUntilMs: endOf(r.session) });
          return r;
        } catch (err) {
          await claim?.finish(uncertainAt(err));
          throw err;
        }
      });
      annotateGrant(result.session, result.tries);
      this.opts.report?.({
        outcome: "admitted",
        substationId: result.session.substationId,
        tries: result.tries,
      });
      return result;
    } catch (err) {
      const reason = err instanceof GridError ? err.reason : reasons.INTERNAL;
      const tries = run?.tries ?? 0;
      annotate({ [attr.tries]: tries, [attr.reason]: reason });
      this.opts.report?.({ outcome: outcomeOf[reason] ?? "invalid", substationId: null, tries });
      throw err;
    }
  }
}

/** When an active session is expected to end (its vehicle's claim lasts until then); undefined: unknown. */
function endOf(session: Session): number | undefined {
  return session.status === "active" && session.expectedEndAt ? Date.parse(session.expectedEndAt) : undefined;
}

/**
 * Where a failed dispatch may still have started a session: the substation that never answered. Its claim
 * then points there, so a retry (same key, any replica) goes there and never books a second session.
 */
function uncertainAt(err: unknown): { at: string } | null {
  if (!(err instanceof GridError) || err.reason !== reasons.SUBSTATION_TIMEOUT) return null;
  const at = (err.details as { substationId?: unknown } | undefined)?.substationId;
  return typeof at === "string" ? { at } : null;
}

/** How a failed startSession looked from here, in the terms of the dispatch rules. */
interface Failed {
  failure: StartFailure;
  /** A reason code for the attempt list (never an error's text). */
  reason: string;
  /** What the substation said of itself when it refused: news for the view. */
  refusal: RefusalDetails | undefined;
}

function classify(err: unknown): Failed {
  switch (classifyCallFailure(err)) {
    case "answered": {
      const data = errorDataOf(err);
      const refusal = refusalDetailsSchema.safeParse(data?.details).data;
      const reason = data?.reason ?? reasons.INTERNAL;
      // Too late to ask anyone: the dispatch ends with it (the substation is not at fault).
      if (reason === reasons.DEADLINE_EXCEEDED) return { failure: "rejected", reason, refusal: undefined };
      if (data?.code === "TOO_MANY_REQUESTS") return { failure: "full", reason, refusal };
      if (reason === reasons.SUBSTATION_DRAINING) return { failure: "draining", reason, refusal };
      if (data?.code === "SERVICE_UNAVAILABLE")
        return { failure: "out_of_service", reason, refusal: undefined };
      return { failure: "rejected", reason, refusal: undefined };
    }
    case "unreachable":
      return { failure: "unreachable", reason: "UNREACHABLE", refusal: undefined };
    case "uncertain":
      return { failure: "uncertain", reason: "NO_ANSWER", refusal: undefined };
  }
}

/**
 * One request's way through the grid: which substations it asked, and why each did not admit it. It goes
 * first to its home if it has one, else where the vehicle would get the most power as the view sees it; a
 * substation that surely did nothing (full, unreachable) is skipped for the next best, within the deadline
 * and at most `maxTries`. The rules of where it may go are `nextStepAfter` in packages/policy.
 */
class DispatchRun {
  private readonly asked = new Set<Member>();
  private readonly attempts: DispatchAttempt[] = [];

  constructor(
    private readonly view: GridView,
    private readonly req: DispatchRequest,
    private readonly opts: DispatcherOptions,
    private readonly now: () => number,
    /** The shared claim to record each try in, when replicas share state. */
    private readonly claim: Claim | null = null,
    /** When the caller gives up (epoch ms); the dispatch's own deadline is never later. */
    private readonly callerDeadlineAtMs: number | null = null,
  ) {}

  /** Substations asked so far. */
  get tries(): number {
    return this.asked.size;
  }

  async run(home: string | undefined): Promise<DispatchResult> {
    const { view, req, opts } = this;
    const deadline = earliest(this.now() + opts.deadlineMs, this.callerDeadlineAtMs) as number;
    const homeMember = home === undefined ? undefined : view.byId(home);
    const first = firstStop(
      home === undefined ? undefined : { id: home, healthy: homeMember?.healthy ?? false },
    );
    if (first === "home_unavailable") throw homeUnavailable(home as string);
    // Pinned (a vehicle at a charger there): that substation or none.
    const pinned = req.substationId === undefined ? undefined : view.byId(req.substationId);
    if (req.substationId !== undefined && !pinned?.healthy) throw homeUnavailable(req.substationId);

    while (this.asked.size < opts.maxTries) {
      const remainingMs = deadline - this.now();
      if (remainingMs <= 0) {
        throw new GridError(
          "SERVICE_UNAVAILABLE",
          reasons.DEADLINE_EXCEEDED,
          `no substation admitted the request within ${opts.deadlineMs} ms`,
          { substations: this.attempts },
        );
      }
      const atHome = (first === "home" || pinned !== undefined) && this.asked.size === 0;
      const member = pinned
        ? this.asked.size === 0
          ? pinned
          : undefined
        : atHome
          ? homeMember
          : view.best(req, this.asked);
      if (!member) break;
      this.asked.add(member);
      if (this.claim && member.id !== null) await this.claim.trying(member.id);
      view.beginAssignment(member, req);
      try {
        // What is left now, after the claim's write: a store that stalled must not send a late start.
        const timeoutMs = Math.min(opts.callTimeoutMs, deadline - this.now());
        if (timeoutMs <= 0) throw deadlineExceeded("the deadline passed before a substation was asked");
        const res = await member.client.startSession.mutate(req, {
          context: { timeoutMs, deadlineAtMs: this.callerDeadlineAtMs },
        });
        view.record(member, res.load);
        return {
          session: res.session,
          replayed: res.replayed,
          tries: this.asked.size,
          attempts: this.attempts,
        };
      } catch (err) {
        this.afterFailure(member, err, atHome);
      } finally {
        view.endAssignment(member, req);
      }
    }
    throw this.noneAdmitted();
  }

  /** Learns from the failure, then goes on to the next substation or ends the dispatch, as the rules say. */
  private afterFailure(member: Member, err: unknown, atHome: boolean): void {
    const { failure, reason, refusal } = classify(err);
    const substationId = member.id ?? "unknown";
    if (refusal) this.view.record(member, refusal.load);
    if (takesOutOfRotation(failure))
      this.view.markFailed(member, failure === "out_of_service" ? reason : describeFailure(err));
    switch (nextStepAfter(failure, atHome)) {
      case "try_next":
        this.attempts.push({
          substationId,
          outcome: failure === "full" || failure === "draining" ? "refused" : "failed",
          reason,
        });
        return;
      case "relay":
        throw relayUpstreamError(err, substationId);
      case "fail_home_unavailable":
        throw homeUnavailable(substationId, failure === "uncertain");
      case "fail_uncertain":
        throw new GridError(
          "SERVICE_UNAVAILABLE",
          reasons.SUBSTATION_TIMEOUT,
          `${substationId} did not answer in time; not retried elsewhere to avoid a double booking`,
          { substationId, uncertain: true },
        );
    }
  }

  /**
   * Says why every substation we did not get a session from could not take it, in reason codes (what
   * exactly failed stays in the balancer's own status, for operators): GRID_FULL if any could answer.
   */
  private noneAdmitted(): GridError {
    const ranking = this.view.rank(this.req, this.asked);
    const fullReason = new Map(ranking.full.map((f) => [f.member, f.reason]));
    const attempts = [...this.attempts];
    for (const m of this.view.members) {
      if (this.asked.has(m)) continue;
      if (!m.healthy || !m.load) {
        attempts.push({ substationId: m.id ?? "unknown", outcome: "failed", reason: "UNREACHABLE" });
        continue;
      }
      const reason = m.load.draining ? reasons.SUBSTATION_DRAINING : (fullReason.get(m) ?? "NOT_TRIED");
      attempts.push({ substationId: m.load.substationId, outcome: "skipped", reason });
    }
    if (attempts.some((a) => a.outcome !== "failed")) return gridFull(attempts);
    return new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.NO_SUBSTATION_AVAILABLE,
      `no substation is reachable (${attempts.map((a) => `${a.substationId}: ${a.reason}`).join(", ") || "none configured"})`,
      { substations: attempts },
    );
  }
}

/** `uncertain`: it was asked and did not answer, so it may have started this very request's session. */
function homeUnavailable(substationId: string, uncertain = false): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.HOME_SUBSTATION_UNAVAILABLE,
    `${substationId}, which holds this vehicle's session, is unreachable; not booked elsewhere, retry later`,
    uncertain ? { substationId, uncertain: true } : { substationId },
  );
}
