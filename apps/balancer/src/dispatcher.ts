import {
  type DispatchAttempt,
  type DispatchRequest,
  type DispatchResult,
  errorDataOf,
  OPERATOR,
  reasons,
  type Session,
  substationLoadSchema,
  substationOfSession,
} from "@evgrid/contract";
import { classifyCallFailure, describeFailure, GridError, gridFull, relayUpstreamError } from "@evgrid/kit";
import { checkSessionQuota, decideAdmission, exceedsEverySite, type SessionQuota } from "@evgrid/policy";
import { annotate, attr } from "@evgrid/telemetry";
import { OwnerLedger } from "./ledger.ts";
import { DispatchMemory } from "./memory.ts";
import type { GridView, Member } from "./view.ts";
import { WaitQueue } from "./wait-queue.ts";

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

  constructor(
    readonly view: GridView,
    private readonly opts: DispatcherOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.memory = opts.memory ?? new DispatchMemory();
    this.ledger = new OwnerLedger(this.now);
    this.waiting = new WaitQueue({
      hasRoomFor: (req) => view.best(req) !== undefined,
      dispatch: (req) => this.admit(req),
      abandon: (result) => void this.stopQuietly(result.session),
      maxWaiting: opts.maxWaiting,
      maxPerOwner: opts.maxWaitingPerOwner,
    });
    view.onRefreshed = () => void this.waiting.pump();
  }

  /** Requests waiting for capacity right now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** `dispatch`: a session for this request now, or (with `waitS`) once power frees up. */
  async request(req: DispatchRequest, signal?: AbortSignal): Promise<DispatchResult> {
    annotate({
      [attr.vehicleId]: req.vehicleId,
      [attr.requestedMaxKw]: req.maxKw,
      [attr.requestedMinKw]: req.minKw,
    });
    const capacitiesKw = this.view.members.flatMap((m) => (m.load ? [m.load.capacityKw] : []));
    if (exceedsEverySite(capacitiesKw, req.minKw)) {
      this.opts.report?.({ outcome: "invalid", substationId: null, tries: 0 });
      throw new GridError(
        "UNPROCESSABLE_CONTENT",
        reasons.EXCEEDS_SITE_CAPACITY,
        `a ${req.minKw} kW minimum is more than any substation of this grid can supply (largest: ${Math.max(...capacitiesKw)} kW)`,
        { field: "minKw" },
      );
    }
    // Earlier waiters go first: a new waiting request takes its place at the back.
    if (req.waitS !== undefined && this.waiting.length > 0) return this.waiting.wait(req, signal);
    try {
      return await this.admit(req);
    } catch (err) {
      if (req.waitS !== undefined && err instanceof GridError && err.reason === reasons.GRID_FULL) {
        return this.waiting.wait(req, signal);
      }
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

  /** `stopSession`: ends it now and lets the waiters have its power. */
  async stopSession(ref: { sessionId: string; owner?: string | undefined }): Promise<Session> {
    const member = this.ownerOf(ref.sessionId);
    try {
      const { session, load } = await member.client.stopSession.mutate(ref);
      this.view.record(member, load);
      this.memory.forgetVehicle(session.vehicleId);
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
    if (counted) await this.checkQuota(req);
    const release = counted ? this.ledger.reserve(req.owner, req.minKw) : () => {};
    try {
      const result = await this.dispatch(req);
      if (result.session.status === "active" && result.session.owner !== OPERATOR)
        this.ledger.add(result.session);
      return result;
    } finally {
      release();
    }
  }

  private async checkQuota(req: DispatchRequest): Promise<void> {
    const decide = () =>
      checkSessionQuota(this.ledger.usage(req.owner), req.minKw, this.opts.quota, this.capacityInForceKw());
    let decision = decide();
    if (!decision.ok && (await this.reconcile(req.owner))) decision = decide();
    if (decision.ok) return;
    this.opts.report?.({ outcome: "quota", substationId: null, tries: 0 });
    const what =
      decision.quota === "active_sessions"
        ? `at most ${decision.limit} active sessions per caller`
        : `at most ${decision.limit * 100}% of the grid's capacity (${decision.limitKw.toFixed(1)} kW of minimums) per caller`;
    throw new GridError("TOO_MANY_REQUESTS", reasons.QUOTA_EXCEEDED, `quota exceeded: ${what}`, {
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

  /** Power in force over the substations taking sessions: what quota shares are shares of. */
  private capacityInForceKw(): number {
    return this.view.candidates().reduce((sum, m) => sum + (m.load?.effectiveCapacityKw ?? 0), 0);
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

  /** One dispatch (coalesced per idempotency key), said on the active span (the trace) and to the metrics. */
  private async dispatch(req: DispatchRequest): Promise<DispatchResult> {
    const progress = { count: 0 };
    try {
      const run = async () => {
        const result = await this.choose(req, progress, this.memory.homeOf(req));
        this.memory.remember(req, result.session);
        return result;
      };
      const result = await this.memory.coalesce(req, run);
      annotate({
        [attr.substationId]: result.session.substationId,
        [attr.sessionId]: result.session.sessionId,
        [attr.allocatedKw]: result.session.allocatedKw,
        [attr.tries]: result.tries,
      });
      this.opts.report?.({
        outcome: "admitted",
        substationId: result.session.substationId,
        tries: result.tries,
      });
      return result;
    } catch (err) {
      const reason = err instanceof GridError ? err.reason : reasons.INTERNAL;
      annotate({ [attr.tries]: progress.count, [attr.reason]: reason });
      this.opts.report?.({
        outcome: outcomeOf[reason] ?? "invalid",
        substationId: null,
        tries: progress.count,
      });
      throw err;
    }
  }

  /**
   * Sends the request to the substation where the vehicle would get the most power, as the view sees it.
   * A refusal (the substation knew better) or a substation that cannot be reached is skipped and the next
   * best tried. A call that timed out is NOT retried elsewhere: that substation may have started the
   * session, and a second one would double-book the vehicle.
   */
  private async choose(
    req: DispatchRequest,
    progress: { count: number },
    home: string | undefined,
  ): Promise<DispatchResult> {
    const { view, opts } = this;
    const deadline = this.now() + opts.deadlineMs;
    const asked = new Set<Member>();
    const attempts: DispatchAttempt[] = [];

    while (asked.size < opts.maxTries) {
      const remainingMs = deadline - this.now();
      if (remainingMs <= 0) {
        throw new GridError(
          "SERVICE_UNAVAILABLE",
          reasons.DEADLINE_EXCEEDED,
          `no substation admitted the request within ${opts.deadlineMs} ms`,
          { substations: attempts },
        );
      }
      // A vehicle with a session, or a retried key, goes first to the substation that knows it.
      const isHome = home !== undefined && asked.size === 0;
      let member: Member | undefined;
      if (isHome) {
        member = view.byId(home);
        if (!member?.healthy) throw homeUnavailable(home);
      } else {
        member = view.best(req, asked);
      }
      if (!member) break;

      asked.add(member);
      progress.count = asked.size;
      view.beginAssignment(member, req);
      try {
        const timeoutMs = Math.min(opts.callTimeoutMs, remainingMs);
        const res = await member.client.startSession.mutate(req, { context: { timeoutMs } });
        view.record(member, res.load);
        return { session: res.session, replayed: res.replayed, tries: asked.size, attempts };
      } catch (err) {
        // Only "full" proves the vehicle has no active session at its home; anything else stays there.
        if (isHome && errorDataOf(err)?.code !== "TOO_MANY_REQUESTS") {
          if (errorDataOf(err)) throw relayUpstreamError(err, home);
          view.markFailed(member, describeFailure(err));
          throw homeUnavailable(home);
        }
        attempts.push(handleFailure(view, member, err));
      } finally {
        view.endAssignment(member, req);
      }
    }

    // Say why every substation we did not get a session from could not take it (in reason codes: what
    // exactly failed stays in the balancer's own status, for operators).
    for (const m of view.members) {
      if (asked.has(m)) continue;
      attempts.push(
        m.healthy && m.load
          ? { substationId: m.load.substationId, outcome: "skipped", reason: viewReason(m, req) }
          : { substationId: m.id ?? "unknown", outcome: "failed", reason: "UNREACHABLE" },
      );
    }
    if (attempts.some((a) => a.outcome !== "failed")) throw gridFull(attempts);
    throw new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.NO_SUBSTATION_AVAILABLE,
      `no substation is reachable (${attempts.map((a) => `${a.substationId}: ${a.reason}`).join(", ") || "none configured"})`,
      { substations: attempts },
    );
  }
}

function homeUnavailable(substationId: string): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.HOME_SUBSTATION_UNAVAILABLE,
    `${substationId}, which holds this vehicle's session, is unreachable; not booked elsewhere, retry later`,
    { substationId },
  );
}

function handleFailure(view: GridView, member: Member, err: unknown): DispatchAttempt {
  const substationId = member.id ?? "unknown";
  switch (classifyCallFailure(err)) {
    case "answered": {
      const data = errorDataOf(err);
      // Full, or drained: healthy, just not taking this session. Learn from the load it sent; no failure.
      if (data?.code === "TOO_MANY_REQUESTS" || data?.reason === reasons.SUBSTATION_DRAINING) {
        const load = substationLoadSchema.safeParse(data.details?.load);
        if (load.success) view.record(member, load.data);
        return { substationId, outcome: "refused", reason: data.reason };
      }
      if (data?.code === "SERVICE_UNAVAILABLE") {
        view.markFailed(member, data.reason);
        return { substationId, outcome: "failed", reason: data.reason };
      }
      // Anything else (bad input) is the caller's problem, not the substation's: pass it on as it is.
      throw relayUpstreamError(err, substationId);
    }
    case "unreachable":
      view.markFailed(member, describeFailure(err));
      return { substationId, outcome: "failed", reason: "UNREACHABLE" };
    case "uncertain":
      view.markFailed(member, describeFailure(err));
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.SUBSTATION_TIMEOUT,
        `${substationId} did not answer in time; not retried elsewhere to avoid a double booking`,
        { substationId },
      );
  }
}

function viewReason(m: Member, req: DispatchRequest): string {
  const load = m.load;
  if (!load) return "UNKNOWN";
  if (load.draining) return reasons.SUBSTATION_DRAINING;
  const decision = decideAdmission(load, load.committedMinKw + m.inflightMinKw, req.minKw);
  return decision.admitted ? "NOT_TRIED" : decision.reason;
}
