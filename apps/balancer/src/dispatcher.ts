import {
  type DispatchRequest,
  OPERATOR,
  reasons,
  retryOf,
  type Session,
  type SessionUpdate,
  type StopMovedSessionInput,
  type StopSessionInput,
  type SubstationLoad,
} from "@evgrid/contract";
import { GridError, relayUpstreamError } from "@evgrid/kit";
import { earliest, subscriptionValues } from "@evgrid/link";
import { exceedsEverySite, type SessionQuota } from "@evgrid/policy";
import { annotate, annotateGrant, annotateRequest, attr } from "@evgrid/telemetry";
import { destinationOf, findMovedSession } from "./bookings.ts";
import { DispatchRun } from "./dispatch-run.ts";
import { MemoryStore } from "./memory.ts";
import { QuotaGate } from "./quota-gate.ts";
import { findVehicleSession, outcomeOf, ownerOf } from "./session-access.ts";
import type { SharedQuota } from "./shared-quota.ts";
import type { ClaimOutcome, DispatchReport, DispatchResult, DispatchStore } from "./types.ts";
import type { GridView, Member } from "./view.ts";
import { keepsWaiting, WaitQueue } from "./wait-queue.ts";

export type { DispatchReport, DispatchResult } from "./types.ts";

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
  /** Idempotency keys, vehicles' homes and the wait order: this replica's memory, or shared (REDIS_URL). */
  store?: DispatchStore;
  /** Quotas counted across replicas (REDIS_URL); none, or the store silent: this replica's ledger alone. */
  sharedQuota?: SharedQuota;
  now?: () => number;
  /** Told how every dispatch ended (metrics). */
  report?: (report: DispatchReport) => void;
}

/**
 * The balancer's whole dispatch flow, in one place: refuse what can never fit, hold each caller to its
 * quotas, send the request where the vehicle gets the most power (retrying elsewhere only when that is safe),
 * queue it for freed power if it said it would wait, and remember what is needed for retries. It owns the
 * view of the grid, the dispatch store, the quota gate and the wait queue; the router only delegates.
 */
export class Dispatcher {
  readonly store: DispatchStore;
  private readonly quota: QuotaGate;
  private readonly waiting: WaitQueue;
  private readonly now: () => number;

  constructor(
    readonly view: GridView,
    private readonly opts: DispatcherOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.store = opts.store ?? new MemoryStore();
    this.quota = new QuotaGate(view, {
      quota: opts.quota,
      sharedQuota: opts.sharedQuota,
      report: opts.report,
      now: this.now,
    });
    this.waiting = new WaitQueue({
      // A pinned request (a vehicle at a charger) waits for its own substation only.
      hasRoomFor: (req) => {
        if (req.substationId === undefined) return view.best(req) !== undefined;
        const pinned = view.byId(req.substationId);
        return pinned !== undefined && view.hasRoomAt(pinned, req);
      },
      // Tried once already, or about to be after others were: a new key is not new any more.
      dispatch: (req, deadlineAtMs) => this.admit(retryOf(req), deadlineAtMs),
      abandon: (result) => void this.stopQuietly(result.session),
      maxWaiting: opts.maxWaiting,
      maxPerOwner: opts.maxWaitingPerOwner,
      ...(this.store.waitOrder ? { order: this.store.waitOrder } : {}),
    });
    view.onRefreshed = () => void this.waiting.pump();
  }

  /** Requests waiting for capacity right now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Passes over the wait queue done so far. */
  get waitPumps(): number {
    return this.waiting.pumps;
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
    if (req.waitS !== undefined && this.waiting.length > 0) {
      return this.waiting.wait(req, signal, deadlineAtMs);
    }
    try {
      return await this.admit(req, deadlineAtMs);
    } catch (err) {
      if (req.waitS !== undefined && keepsWaiting(err)) return this.waiting.wait(req, signal, deadlineAtMs);
      throw err;
    }
  }

  /** `getSession`: with `owner`, only that owner's session (the substation checks). */
  getSession(ref: { sessionId: string; owner?: string | undefined }): Promise<Session> {
    const member = ownerOf(this.view, ref.sessionId);
    return member.client.getSession.query(ref).catch((err: unknown) => {
      throw relayUpstreamError(err, member.id ?? member.url);
    });
  }

  /** A vehicle's active session anywhere in the grid, or null (the OCPP gateway asks when it plugs in). */
  findVehicleSession(vehicleId: string): Promise<Session | null> {
    return findVehicleSession(this.view, this.store, vehicleId);
  }

  /**
   * One session's power, energy and end as they change, relayed from its substation's own subscription
   * (with `owner`, only that owner's session). Ends when the session ends or the watcher stops.
   */
  async *watchSession(
    ref: { sessionId: string; owner?: string | undefined },
    signal?: AbortSignal,
  ): AsyncGenerator<SessionUpdate> {
    const member = ownerOf(this.view, ref.sessionId);
    try {
      yield* subscriptionValues(member.client.watchSession, ref, signal);
    } catch (err) {
      throw relayUpstreamError(err, member.id ?? member.url);
    }
  }

  /** `stopSession`: ends it now and lets the waiters have its power. */
  async stopSession(ref: StopSessionInput): Promise<Session> {
    const member = ownerOf(this.view, ref.sessionId);
    try {
      return this.stopped(member, await member.client.stopSession.mutate(ref));
    } catch (err) {
      throw relayUpstreamError(err, member.id ?? member.url);
    }
  }

  /**
   * `stopMovedSession`: a booking that ended `moved`, stopped by its owner where it went, whether or not it is
   * admitted there yet (the substation's stopMovedSession). Without a recorded destination, the session it
   * went on in is looked for and stopped; null if there is none (not admitted yet: nothing to stop there).
   */
  async stopMovedSession(ref: StopMovedSessionInput): Promise<Session | null> {
    const to = ref.movedToSubstationId;
    if (to === undefined) {
      const there = await findMovedSession(this.view, ref);
      return there && this.stopSession({ sessionId: there.sessionId, owner: ref.owner });
    }
    const member = destinationOf(this.view, to);
    const { sessionId: movedFrom, owner, vehicleId, minKw, maxKw } = ref;
    try {
      const answer = await member.client.stopMovedSession.mutate({
        movedFrom,
        owner,
        vehicleId,
        minKw,
        maxKw,
      });
      return this.stopped(member, answer);
    } catch (err) {
      throw relayUpstreamError(err, to);
    }
  }

  /** A stop's bookkeeping: the substation's load, the vehicle free to go anywhere, its place in quota, the waiters. */
  private async stopped(member: Member, { session, load }: { session: Session; load: SubstationLoad }) {
    this.view.record(member, load);
    await this.freeVehicle(member, session.vehicleId, session.substationId);
    this.quota.ended(session);
    void this.waiting.pump();
    return session;
  }

  /**
   * The vehicle's home forgotten, so its next request may go anywhere: only if it is the stopped session's
   * substation and that has no active session of the vehicle. A stop answers an ended session as it is (a
   * retried stop, an old session, a moved booking's record ended before it began): forgetting the home of
   * the session the vehicle charges in now would let its next request start a second one elsewhere.
   */
  private async freeVehicle(member: Member, vehicleId: string, substationId: string): Promise<void> {
    if ((await this.store.vehicleHome(vehicleId)) !== substationId) return;
    const active = await member.client.findSession.query({ vehicleId }).catch(() => undefined);
    if (active === null) await this.store.forgetVehicle(vehicleId);
  }

  /**
   * What every request goes through, directly or from the queue: its caller's quota, then the dispatch,
   * which ends by its caller's deadline (`deadlineAtMs`, epoch ms; null: the dispatch's own only).
   */
  private async admit(req: DispatchRequest, deadlineAtMs: number | null): Promise<DispatchResult> {
    // A retry of a request already made asks for nothing new: it is answered, not counted again.
    const counted = req.owner !== OPERATOR && !this.store.isRetry(req);
    // The quota's reservation point: this replica's count, then every replica's (quota-gate.ts).
    const place = await this.quota.reserve(req, counted);
    try {
      const result = await this.dispatch(req, deadlineAtMs);
      place.admitted(result.session);
      return result;
    } finally {
      place.release();
    }
  }

  /** A session was admitted for a caller that hung up while waiting: nobody will ever use it. */
  private async stopQuietly(session: Session): Promise<void> {
    await this.stopSession({ sessionId: session.sessionId }).catch(() => {});
  }

  /**
   * One dispatch (coalesced per idempotency key here, claimed across replicas when state is shared), said on
   * the active span (the trace) and to the metrics.
   */
  private async dispatch(req: DispatchRequest, callerDeadlineAtMs: number | null): Promise<DispatchResult> {
    let run: DispatchRun | undefined;
    try {
      const result = await this.store.coalesce(req, async () => {
        const deadlineAtMs = earliest(this.now() + this.opts.deadlineMs, callerDeadlineAtMs) as number;
        const claim = await this.store.claim(req, deadlineAtMs);
        run = new DispatchRun(this.view, req, this.opts, this.now, claim, callerDeadlineAtMs);
        try {
          const r = await run.run(claim.home);
          await claim.finish({ kind: "admitted", session: r.session, replayed: r.replayed });
          return r;
        } catch (err) {
          await claim.finish(uncertainAt(err, run?.chargingAt, (run?.tries ?? 0) > 0));
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

/**
 * Where a failed dispatch may still have started a session: the substation that never answered. Its claim
 * then points there, so a retry (same key, any replica) goes there and never books a second session.
 */
function uncertainAt(err: unknown, chargingAt: string | undefined, asked: boolean): ClaimOutcome {
  // The vehicle charges there (the substation said so): a freed claim would let the next request go elsewhere.
  if (chargingAt !== undefined) return { kind: "uncertain", at: chargingAt, charging: true };
  if (!(err instanceof GridError)) return { kind: "none" };
  const details = err.details as { substationId?: unknown; uncertain?: unknown } | undefined;
  const uncertain = err.reason === reasons.SUBSTATION_TIMEOUT || details?.uncertain === true;
  const at = details?.substationId;
  return uncertain && typeof at === "string" ? { kind: "uncertain", at, asked } : { kind: "none" };
}
