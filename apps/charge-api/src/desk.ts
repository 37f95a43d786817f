import type { Balancers } from "@evgrid/balancer/pool";
import {
  type ChargeRequest,
  type DispatchRequest,
  errorDataOf,
  type Priority,
  reasons,
  retryOf,
  type Session,
  type SessionUpdate,
} from "@evgrid/contract";
import {
  type Caller,
  GridError,
  idTagFor,
  relayUpstreamError,
  sessionSecretFor,
  sessionSecretMatches,
  strictDepartureCheck,
} from "@evgrid/kit";
import { earliest, subscriptionValues } from "@evgrid/link";
import { mayRequest } from "@evgrid/policy";
import { annotateGrant, annotateRequest } from "@evgrid/telemetry";
import { grantOf, publicGridStatus, publicSession } from "./public-view.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { relayDispatchError } from "./uncertain.ts";
import { type WatcherLimits, WatcherSlots } from "./watchers.ts";

export interface ChargeDeskOptions {
  /** The highest priority class each API key may ask for, by owner id; anyone else: standard. */
  priorities?: Readonly<Record<string, Priority>>;
  /** Calls to the balancer; a waiting request gets its wait on top. */
  callTimeoutMs: number;
  /** Signs open-mode session secrets. */
  serviceToken: string;
  /** Requests per second per caller. */
  rate: RateLimiter;
  /** Waiting requests held open at once (each holds a call to the balancer). */
  maxWaiting: number;
  /** Session watchers open at once, per caller and in all; null: watching is off (internal calls over HTTP). */
  watchers?: WatcherLimits | null;
}

/** A session named by a public caller: its id, and in open mode the secret that proves it started it. */
export interface SessionRef {
  sessionId: string;
  sessionSecret?: string | null | undefined;
}

/** How long a caller refused for a full wait queue is told to wait before asking again. */
const WAIT_FULL_RETRY_S = 5;

const relay = (err: unknown): never => {
  throw relayUpstreamError(err, "balancer");
};

/** How many moves of a booking (a charger elsewhere, then another) a stop follows. */
const MAX_MOVES_FOLLOWED = 4;

/**
 * What finds the session a booking ended `moved` goes on in: the booking's owner's, at the substation its end
 * names (one call); a substation there that cannot answer is an error, not "not admitted yet".
 */
const movedRef = (booking: Session) => ({
  sessionId: booking.sessionId,
  owner: booking.owner,
  movedToSubstationId: booking.movedToSubstationId,
});

/**
 * The charge-api's admission side, in one place: each caller's rate, which priority class it may ask for,
 * how many requests may wait for capacity and how many sessions may be watched here, who may act on a
 * session, and the idempotency key a dispatch carries across balancer replicas. The router only validates
 * input and delegates here; the balancer decides where (and whether) a session starts.
 */
export class ChargeDesk {
  private waitingNow = 0;
  private readonly watchers: WatcherSlots | null;

  constructor(
    private readonly balancers: Balancers,
    private readonly opts: ChargeDeskOptions,
  ) {
    this.watchers = opts.watchers ? new WatcherSlots(opts.watchers) : null;
  }

  /** Requests waiting for capacity now, held open here. */
  get waiting(): number {
    return this.waitingNow;
  }

  /** Sessions watched now, in all. */
  get watching(): number {
    return this.watchers?.open ?? 0;
  }

  /** Counts one call against its caller's rate, one by one, batched or not; operators are not counted. */
  countCall(caller: Caller): void {
    if (!caller.operator) this.opts.rate.take(caller.owner);
  }

  /** The highest priority class this caller may ask for: an operator any, an API key its own, others standard. */
  allowedPriority(caller: Caller): Priority {
    return caller.operator ? "emergency" : (this.opts.priorities?.[caller.owner] ?? "standard");
  }

  /** Starts a charging session on the substation with the most headroom, or says why none can. */
  async requestCharge(
    caller: Caller,
    input: ChargeRequest,
    signal?: AbortSignal,
    deadlineAtMs?: number | null,
  ) {
    annotateRequest(input);
    const allowed = this.allowedPriority(caller);
    if (!mayRequest(input.priority, allowed)) {
      throw new GridError(
        "FORBIDDEN",
        reasons.PRIORITY_NOT_ALLOWED,
        `priority ${input.priority} is above what this caller may ask for (${allowed})`,
        { field: "priority", allowed },
      );
    }
    const waits = input.waitS !== undefined;
    if (waits && this.waitingNow >= this.opts.maxWaiting) {
      throw new GridError(
        "TOO_MANY_REQUESTS",
        reasons.WAIT_QUEUE_FULL,
        `${this.waitingNow} requests are already waiting for capacity here; try again later`,
        { retryAfterS: WAIT_FULL_RETRY_S },
      );
    }
    // Refused before it waits or asks anyone: what its maximum cannot deliver by then, it never will. Not
    // with the caller's own key: a retry gets the session an earlier try started (the substation replays a
    // key before it checks), and a grid full for it says DEPARTURE_UNREACHABLE below.
    if (input.idempotencyKey === undefined) strictDepartureCheck(input, Date.now());
    // The request's deadline: the call timeout (a waiting request's wait on top), or sooner if its caller
    // sent a shorter budget. It travels with the dispatch: nothing starts for this request after it.
    const deadline = earliest(
      deadlineAtMs,
      Date.now() + this.opts.callTimeoutMs + (input.waitS ?? 0) * 1000,
    ) as number;
    if (waits) this.waitingNow += 1;
    // Every dispatch carries a key (the caller's, or one made here): an answer that cannot say whether a
    // session started hands it back, and a retry with it settles the question (never a second session).
    const idempotencyKey = input.idempotencyKey ?? `auto:${Bun.randomUUIDv7()}`;
    try {
      // Several replicas sharing state: an answer that never came is asked again on another replica.
      const retryUncertain = this.balancers.count > 1 && this.balancers.allShared;
      // A key made here is new on its first try (the substation need not look it up in its journal); a
      // retry of it on another replica may follow a try that ran, so it goes without that promise.
      const req: DispatchRequest = {
        ...input,
        owner: caller.owner,
        idempotencyKey,
        ...(input.idempotencyKey === undefined ? { newKey: true as const } : {}),
      };
      // A waiting request is let go if its caller hangs up, and answered GRID_FULL at its vehicle's departure
      // (the balancer's wait queue ends a wait there).
      const callOpts = {
        context: {
          timeoutMs: deadline - Date.now(),
          deadlineAtMs: deadline,
          signal: waits ? signal : undefined,
        },
      };
      const { session, tries, replayed } = await this.balancers
        .call((b, attempt) => b.dispatch.mutate(attempt === 0 ? req : retryOf(req), callOpts), {
          retryUncertain,
        })
        .catch((err: unknown) => {
          if (errorDataOf(err)?.reason === reasons.GRID_FULL) strictDepartureCheck(input, Date.now());
          return relayDispatchError(err, idempotencyKey);
        });
      annotateGrant(session, tries);
      return {
        ...grantOf(session),
        tries,
        /** True when this answers a retry: an earlier request with the same key started the session. */
        replayed,
        // An API key owns its sessions by itself; everyone else proves ownership with this.
        sessionSecret: caller.owner.startsWith("key:")
          ? null
          : sessionSecretFor(this.opts.serviceToken, session.sessionId),
        // What the owner presents at a charger to claim the booking there; only the owner is told it.
        idTag: idTagFor(this.opts.serviceToken, session.sessionId),
      };
    } finally {
      if (waits) this.waitingNow -= 1;
    }
  }

  async stopCharge(caller: Caller, ref: SessionRef) {
    // Checked here, before any call: a refusal is the caller's answer, not a replica's failure.
    const access = this.access(caller, ref);
    let s = await this.balancers.call((b) => b.stopSession.mutate(access)).catch(relay);
    // A booking its car claimed at another substation's charger has ended `moved`, and the car charges on
    // there in the session it went on in, or waits for room to: the owner's stop means that one (never
    // answered "ended" while the car still charges, or charges later). One call: the substation it went to
    // stops it, or records it ended before it began. Its owner's only (the substation checks), and at most
    // a few moves on.
    for (let hops = 0; s.endReason === "moved" && hops < MAX_MOVES_FOLLOWED; hops++) {
      const from = s;
      const ref = { ...movedRef(from), vehicleId: from.vehicleId, minKw: from.minKw, maxKw: from.maxKw };
      const there = await this.balancers.call((b) => b.stopMovedSession.mutate(ref)).catch(relay);
      if (!there) break; // a move recorded without its destination, admitted nowhere: the booking's end
      s = there;
    }
    return publicSession(s);
  }

  async getSession(caller: Caller, ref: SessionRef) {
    const access = this.access(caller, ref);
    const s = await this.balancers.call((b) => b.getSession.query(access)).catch(relay);
    return {
      ...publicSession(s),
      idTag: idTagFor(this.opts.serviceToken, s.sessionId),
      movedTo: s.endReason === "moved" ? await this.movedTo(caller, s) : null,
    };
  }

  /**
   * Where a booking claimed at a charger of another substation goes on, for whoever may read the booking: the
   * session there, if it is the booking owner's (the substation checks), with its secret for open mode (the
   * caller proved the booking is its own). null until it is admitted there.
   */
  private async movedTo(caller: Caller, booking: Session) {
    const there = await this.balancers.call((b) => b.findMovedSession.query(movedRef(booking))).catch(relay);
    if (!there) return null;
    const sessionSecret = caller.owner.startsWith("key:")
      ? null
      : sessionSecretFor(this.opts.serviceToken, there.sessionId);
    return { sessionId: there.sessionId, sessionSecret };
  }

  /** A session's power, energy and end as they change, until it ends or the caller goes. */
  async *watchSession(caller: Caller, ref: SessionRef, signal?: AbortSignal): AsyncGenerator<SessionUpdate> {
    const access = this.access(caller, ref);
    if (!this.watchers) {
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.WATCH_UNAVAILABLE,
        "watching sessions needs the charge-api's internal calls on links (INTERNAL_TRANSPORT=ws)",
      );
    }
    const release = this.watchers.take(caller);
    try {
      const balancer = this.balancers.pick();
      yield* subscriptionValues(balancer.watchSession, access, signal);
    } catch (err) {
      relay(err);
    } finally {
      release();
    }
  }

  /** Every substation's last known load, as the balancer sees it, with grid totals. */
  async gridStatus() {
    const members = await this.balancers.call((b) => b.listSubstations.query()).catch(relay);
    return publicGridStatus(members);
  }

  /**
   * Who may act on a session: an operator on any; an API key on its own (the substation checks the owner);
   * in open mode whoever shows the session's secret. A wrong or missing secret is refused before any lookup,
   * so the answer says nothing about whether the session exists.
   */
  private access(caller: Caller, ref: SessionRef): { sessionId: string; owner?: string } {
    if (caller.operator) return { sessionId: ref.sessionId };
    if (caller.owner.startsWith("key:")) return { sessionId: ref.sessionId, owner: caller.owner };
    if (
      !ref.sessionSecret ||
      !sessionSecretMatches(this.opts.serviceToken, ref.sessionId, ref.sessionSecret)
    ) {
      throw new GridError(
        "FORBIDDEN",
        reasons.SESSION_FORBIDDEN,
        "this session needs its sessionSecret (requestCharge returned it to whoever started the session)",
        { field: "sessionSecret" },
      );
    }
    return { sessionId: ref.sessionId };
  }
}
