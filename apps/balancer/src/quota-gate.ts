import {
  type DispatchRequest,
  errorDataOf,
  OPERATOR,
  reasons,
  type Session,
  substationOfSession,
} from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { checkSessionQuota, type QuotaDecision, type SessionQuota } from "@evgrid/policy";
import { OwnerLedger } from "./ledger.ts";
import { activeSessionsOf, type SharedQuota, type SharedReservation } from "./shared-quota.ts";
import type { DispatchReport } from "./types.ts";
import type { GridView } from "./view.ts";

export interface QuotaGateOptions {
  /** What one caller may hold (operators: no limit). */
  quota: SessionQuota;
  /** Quotas counted across replicas (REDIS_URL); none, or the store silent: this replica's ledger alone. */
  sharedQuota?: SharedQuota | undefined;
  report?: ((report: DispatchReport) => void) | undefined;
  now: () => number;
}

/** A request's place within its caller's quotas while it is dispatched. */
export interface QuotaPlace {
  /** It made (or found) this session: counted until the session ends. */
  admitted(session: Session): void;
  /** The dispatch is over: a place it did not turn into a session is free again. */
  release(): void;
}

/** A caller over its quota is re-checked against its substations at most this often. */
const RECONCILE_EVERY_MS = 2000;

/**
 * Each caller's session quotas: this replica's own ledger first (synchronous, so calls that arrive together
 * cannot all pass), then, when the store answers, the count across every replica (shared-quota.ts). The
 * dispatcher asks for a place before each dispatch and says how it ended; nothing here calls back up.
 */
export class QuotaGate {
  private readonly ledger: OwnerLedger;
  private readonly reconciledAtMs = new Map<string, number>();

  constructor(
    private readonly view: GridView,
    private readonly opts: QuotaGateOptions,
  ) {
    this.ledger = new OwnerLedger(opts.now);
  }

  /**
   * A place for the request within its caller's quotas, or QUOTA_EXCEEDED. Not `counted` (an operator, a
   * retry this replica already answered): no place is taken, its session is only noted.
   */
  async reserve(req: DispatchRequest, counted: boolean): Promise<QuotaPlace> {
    const note = (session: Session) => {
      if (session.status === "active" && session.owner !== OPERATOR) this.ledger.add(session);
    };
    if (!counted) return { admitted: note, release: () => {} };
    const release = await this.reserveWithinQuota(req);
    let across: SharedReservation | undefined;
    try {
      across = await this.reserveAcrossReplicas(req);
    } catch (err) {
      release();
      throw err;
    }
    return {
      admitted: (session) => {
        note(session);
        if (session.status === "active") across?.admitted(session);
      },
      release: () => {
        release();
        across?.release();
      },
    };
  }

  /** The session ended (stopped through this replica): its place is free here and on every replica. */
  ended(session: Session): void {
    this.ledger.remove(session.sessionId);
    this.opts.sharedQuota?.ended(session.owner, session.sessionId);
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

  /** The caller's quota across every replica (after this replica's own): undefined if not shared now. */
  private async reserveAcrossReplicas(req: DispatchRequest): Promise<SharedReservation | undefined> {
    const answer = await this.opts.sharedQuota?.reserve(
      req.owner,
      req.idempotencyKey,
      req.minKw,
      this.opts.quota,
      this.view.capacityInForceKw,
      {
        held: () => this.ledger.held(),
        activeSessions: () => activeSessionsOf(this.view),
        ended: async (ids) => {
          if (!this.reconcileDue(req.owner)) return [];
          const gone = await Promise.all(ids.map((id) => this.sessionEnded(id)));
          const ended = ids.filter((_, i) => gone[i]);
          for (const id of ended) this.ledger.remove(id);
          return ended;
        },
      },
    );
    if (!answer) return undefined;
    if (answer.ok) return answer.reservation;
    throw this.overQuota(req, answer.decision, answer.retryAfterS);
  }

  private overQuota(
    req: DispatchRequest,
    decision: Exclude<QuotaDecision, { ok: true }>,
    retryAfterS = this.ledger.retryAfterS(req.owner),
  ) {
    this.opts.report?.({ outcome: "quota", substationId: null, tries: 0 });
    const what =
      decision.quota === "active_sessions"
        ? `at most ${decision.limit} active sessions per caller`
        : `at most ${decision.limit * 100}% of the grid's capacity (${decision.limitKw.toFixed(1)} kW of minimums) per caller`;
    return new GridError("TOO_MANY_REQUESTS", reasons.QUOTA_EXCEEDED, `quota exceeded: ${what}`, {
      quota: decision.quota,
      limit: decision.limit,
      retryAfterS,
    });
  }

  /**
   * Asks the substations about the caller's sessions that may have ended early (stopped by an operator,
   * curtailed, energy reached sooner than expected), so an honest caller is not held to sessions it no
   * longer has. At most once per RECONCILE_EVERY_MS per caller; true if anything was learned.
   */
  private async reconcile(owner: string): Promise<boolean> {
    if (!this.reconcileDue(owner)) return false;
    const uncertain = this.ledger.uncertain(owner);
    const ended = await Promise.all(uncertain.map((sessionId) => this.sessionEnded(sessionId)));
    ended.forEach((gone, i) => {
      const id = uncertain[i];
      if (gone && id !== undefined) {
        this.ledger.remove(id);
        this.opts.sharedQuota?.ended(owner, id);
      }
    });
    return ended.some(Boolean);
  }

  /** May the caller's sessions be asked about now (at most once per RECONCILE_EVERY_MS)? Counts it if so. */
  private reconcileDue(owner: string): boolean {
    const nowMs = this.opts.now();
    if (nowMs - (this.reconciledAtMs.get(owner) ?? 0) < RECONCILE_EVERY_MS) return false;
    this.reconciledAtMs.set(owner, nowMs);
    if (this.reconciledAtMs.size > 10_000) {
      for (const [o, at] of this.reconciledAtMs)
        if (nowMs - at >= RECONCILE_EVERY_MS) this.reconciledAtMs.delete(o);
    }
    return true;
  }

  /** Has this session surely ended? Its substation says so (an unreachable one says nothing). */
  private async sessionEnded(sessionId: string): Promise<boolean> {
    const member = this.view.byId(substationOfSession(sessionId));
    if (!member?.healthy) return false;
    try {
      return (await member.client.getSession.query({ sessionId })).status === "ended";
    } catch (err) {
      return errorDataOf(err)?.reason === reasons.SESSION_NOT_FOUND;
    }
  }
}
