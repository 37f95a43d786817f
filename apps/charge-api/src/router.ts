import { randomUUID } from "node:crypto";
import type { Balancers } from "@evgrid/balancer/pool";
import {
  chargeRequestSchema,
  type Priority,
  type PublicSession,
  reasons,
  type Session,
  type SessionUpdate,
  sessionRefSchema,
} from "@evgrid/contract";
import {
  type Caller,
  GridError,
  publicProcedure,
  relayUpstreamError,
  router,
  sessionSecretFor,
  sessionSecretMatches,
  subscriptionValues,
} from "@evgrid/kit";
import { mayRequest } from "@evgrid/policy";
import { annotateGrant, annotateRequest } from "@evgrid/telemetry";
import type { RateLimiter } from "./rate-limit.ts";

export interface ChargeApiOptions {
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
  watchers?: { perCaller: number; total: number } | null;
}

const WAIT_FULL_RETRY_S = 5;

/** The public API. Every call is counted against its caller's rate, one by one, batched or not. */
export function chargeApiRouter(balancers: Balancers, opts: ChargeApiOptions) {
  const relay = (err: unknown): never => {
    throw relayUpstreamError(err, "balancer");
  };
  const limited = publicProcedure.use(({ ctx, next }) => {
    if (!ctx.caller.operator) opts.rate.take(ctx.caller.owner);
    return next();
  });
  /**
   * Who may act on a session: an operator on any; an API key on its own (the substation checks the owner);
   * in open mode whoever shows the session's secret. A wrong or missing secret is refused before any lookup,
   * so the answer says nothing about whether the session exists.
   */
  const access = (caller: Caller, ref: { sessionId: string; sessionSecret?: string | null | undefined }) => {
    if (caller.operator) return { sessionId: ref.sessionId };
    if (caller.owner.startsWith("key:")) return { sessionId: ref.sessionId, owner: caller.owner };
    if (!ref.sessionSecret || !sessionSecretMatches(opts.serviceToken, ref.sessionId, ref.sessionSecret)) {
      throw new GridError(
        "FORBIDDEN",
        reasons.SESSION_FORBIDDEN,
        "this session needs its sessionSecret (requestCharge returned it to whoever started the session)",
        { field: "sessionSecret" },
      );
    }
    return { sessionId: ref.sessionId };
  };
  let waiting = 0;
  const watching = new Map<string, number>();
  let watchingTotal = 0;
  /** Takes a watcher's place for this caller, or refuses: the streams are long-lived, so they are bounded. */
  const takeWatcher = (caller: Caller): (() => void) => {
    const limits = opts.watchers;
    if (!limits) {
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.WATCH_UNAVAILABLE,
        "watching sessions needs the charge-api's internal calls on links (INTERNAL_TRANSPORT=ws)",
      );
    }
    const mine = watching.get(caller.owner) ?? 0;
    const overMine = !caller.operator && mine >= limits.perCaller;
    if (overMine || watchingTotal >= limits.total) {
      throw new GridError(
        "TOO_MANY_REQUESTS",
        reasons.QUOTA_EXCEEDED,
        overMine
          ? `quota exceeded: at most ${limits.perCaller} sessions watched at once per caller`
          : `${watchingTotal} sessions are watched here already; try again later`,
        {
          quota: "watchers",
          limit: overMine ? limits.perCaller : limits.total,
          retryAfterS: WAIT_FULL_RETRY_S,
        },
      );
    }
    watching.set(caller.owner, mine + 1);
    watchingTotal += 1;
    return () => {
      const left = (watching.get(caller.owner) ?? 1) - 1;
      if (left > 0) watching.set(caller.owner, left);
      else watching.delete(caller.owner);
      watchingTotal -= 1;
    };
  };

  return router({
    /** Starts a charging session on the substation with the most headroom, or says why none can. */
    requestCharge: limited.input(chargeRequestSchema).mutation(async ({ input, ctx, signal }) => {
      annotateRequest(input);
      const allowed: Priority = ctx.caller.operator
        ? "emergency"
        : (opts.priorities?.[ctx.caller.owner] ?? "standard");
      if (!mayRequest(input.priority, allowed)) {
        throw new GridError(
          "FORBIDDEN",
          reasons.PRIORITY_NOT_ALLOWED,
          `priority ${input.priority} is above what this caller may ask for (${allowed})`,
          { field: "priority", allowed },
        );
      }
      const waits = input.waitS !== undefined;
      if (waits && waiting >= opts.maxWaiting) {
        throw new GridError(
          "TOO_MANY_REQUESTS",
          reasons.WAIT_QUEUE_FULL,
          `${waiting} requests are already waiting for capacity here; try again later`,
          { retryAfterS: WAIT_FULL_RETRY_S },
        );
      }
      // A request that may wait needs the call to outlast its wait, and is let go if its caller hangs up.
      const callOpts = waits
        ? { context: { timeoutMs: opts.callTimeoutMs + (input.waitS ?? 0) * 1000, signal } }
        : undefined;
      if (waits) waiting += 1;
      try {
        // Several replicas sharing state: every dispatch carries a key (the caller's, or one made here), so
        // an answer that never came may be asked again on another replica and still give one session.
        const retryUncertain = balancers.count > 1 && balancers.allShared;
        const req = {
          ...input,
          owner: ctx.caller.owner,
          ...(retryUncertain && input.idempotencyKey === undefined
            ? { idempotencyKey: `auto:${randomUUID()}` }
            : {}),
        };
        const { session, tries, replayed } = await balancers
          .call((b) => b.dispatch.mutate(req, callOpts), { retryUncertain })
          .catch(relay);
        annotateGrant(session, tries);
        return {
          ...grantOf(session),
          tries,
          /** True when this answers a retry: an earlier request with the same key started the session. */
          replayed,
          // An API key owns its sessions by itself; everyone else proves ownership with this.
          sessionSecret: ctx.caller.owner.startsWith("key:")
            ? null
            : sessionSecretFor(opts.serviceToken, session.sessionId),
        };
      } finally {
        if (waits) waiting -= 1;
      }
    }),
    stopCharge: limited.input(sessionRefSchema).mutation(({ input, ctx }) => {
      // Checked here, before any call: a refusal is the caller's answer, not a replica's failure.
      const ref = access(ctx.caller, input);
      return balancers.call((b) => b.stopSession.mutate(ref)).then(publicSession, relay);
    }),
    getSession: limited.input(sessionRefSchema).query(({ input, ctx }) => {
      const ref = access(ctx.caller, input);
      return balancers.call((b) => b.getSession.query(ref)).then(publicSession, relay);
    }),
    /**
     * A session's power, energy and end as they change (SSE: tRPC's httpSubscriptionLink), until it ends or
     * the caller goes. Only its owner (API key, or the sessionSecret in open mode) or an operator may watch.
     */
    watchSession: limited.input(sessionRefSchema).subscription(async function* ({ input, ctx, signal }) {
      const ref = access(ctx.caller, input);
      const release = takeWatcher(ctx.caller);
      try {
        const balancer = balancers.pick();
        yield* subscriptionValues<SessionUpdate>((o) => balancer.watchSession.subscribe(ref, o), signal);
      } catch (err) {
        relay(err);
      } finally {
        release();
      }
    }),
    /** Every substation's last known load, as the balancer sees it, with grid totals. */
    gridStatus: limited.query(async () => {
      const members = await balancers.call((b) => b.listSubstations.query()).catch(relay);
      // The public view: ids, health and load. Addresses, error texts and failure counts stay internal.
      const substations = members.map(({ substationId, healthy, load }) => ({ substationId, healthy, load }));
      const sum = (pick: (l: NonNullable<(typeof substations)[number]["load"]>) => number) =>
        substations.reduce((acc, s) => acc + (s.healthy && s.load ? pick(s.load) : 0), 0);
      return {
        substations,
        totals: {
          substations: substations.length,
          healthy: substations.filter((s) => s.healthy).length,
          effectiveCapacityKw: sum((l) => l.effectiveCapacityKw),
          allocatedKw: sum((l) => l.allocatedKw),
          committedMinKw: sum((l) => l.committedMinKw),
          activeSessions: sum((l) => l.activeSessions),
        },
      };
    }),
  });
}

/** What a grant says of its session (the rest is getSession's). */
const GRANT_FIELDS = [
  "sessionId",
  "substationId",
  "vehicleId",
  "allocatedKw",
  "minKw",
  "maxKw",
  "startedAt",
  "expectedEndAt",
  "durationS",
  "energyKwh",
  "priority",
  "departAt",
  "projectedKwh",
  "onTrack",
  "maxDeliverableKwh",
] as const satisfies readonly (keyof Session)[];

function grantOf(session: Session): Pick<Session, (typeof GRANT_FIELDS)[number]> {
  return Object.fromEntries(GRANT_FIELDS.map((k) => [k, session[k]])) as Pick<
    Session,
    (typeof GRANT_FIELDS)[number]
  >;
}

/** What the owner sees of its session: everything but the owner id (its own key comes back as it sent it). */
function publicSession({ owner: _owner, ...session }: Session): PublicSession {
  return session;
}

export type ChargeApiRouter = ReturnType<typeof chargeApiRouter>;
