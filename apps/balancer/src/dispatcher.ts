import {
  type ChargeRequest,
  type DispatchAttempt,
  type DispatchResult,
  errorDataOf,
  reasons,
  substationLoadSchema,
} from "@evgrid/contract";
import { classifyCallFailure, describeFailure, GridError, gridFull, relayUpstreamError } from "@evgrid/kit";
import { decideAdmission } from "@evgrid/policy";
import { annotate, attr } from "@evgrid/telemetry";
import type { DispatchMemory } from "./memory.ts";
import type { GridView, Member } from "./view.ts";

export interface DispatchReport {
  outcome: "admitted" | "grid_full" | "unavailable" | "timeout" | "deadline" | "invalid";
  substationId: string | null;
  tries: number;
}

export interface DispatchOptions {
  /** Substations asked at most per request. */
  maxTries: number;
  /** The whole dispatch, all tries included. */
  deadlineMs: number;
  /** One startSession call at most (less if the deadline is nearer). */
  callTimeoutMs: number;
  now?: () => number;
  /** Told how every dispatch ended (metrics). */
  report?: (report: DispatchReport) => void;
  /** Idempotency and one-session-per-vehicle across this balancer's dispatches. */
  memory?: DispatchMemory;
}

const outcomeOf: Record<string, DispatchReport["outcome"]> = {
  [reasons.GRID_FULL]: "grid_full",
  [reasons.NO_SUBSTATION_AVAILABLE]: "unavailable",
  [reasons.SUBSTATION_TIMEOUT]: "timeout",
  [reasons.DEADLINE_EXCEEDED]: "deadline",
};

/** Dispatches and says how it went: on the active span (the trace) and to `opts.report` (the metrics). */
export async function dispatch(
  view: GridView,
  req: ChargeRequest,
  opts: DispatchOptions,
): Promise<DispatchResult> {
  annotate({
    [attr.vehicleId]: req.vehicleId,
    [attr.requestedMaxKw]: req.maxKw,
    [attr.requestedMinKw]: req.minKw,
  });
  const asked = { count: 0 };
  const { memory } = opts;
  try {
    const run = async () => {
      const result = await choose(view, req, opts, asked, memory?.homeOf(req));
      memory?.remember(req, result.session);
      return result;
    };
    const result = await (memory ? memory.coalesce(req, run) : run());
    annotate({
      [attr.substationId]: result.session.substationId,
      [attr.sessionId]: result.session.sessionId,
      [attr.allocatedKw]: result.session.allocatedKw,
      [attr.tries]: result.tries,
    });
    opts.report?.({ outcome: "admitted", substationId: result.session.substationId, tries: result.tries });
    return result;
  } catch (err) {
    const reason = err instanceof GridError ? err.reason : reasons.INTERNAL;
    annotate({ [attr.tries]: asked.count, [attr.reason]: reason });
    opts.report?.({ outcome: outcomeOf[reason] ?? "invalid", substationId: null, tries: asked.count });
    throw err;
  }
}

/**
 * Sends the request to the substation where the vehicle would get the most power, as the view sees it.
 * A refusal (the substation knew better) or a substation that cannot be reached is skipped and the next best
 * tried. A call that timed out is NOT retried elsewhere: that substation may have started the session, and a
 * second one would double-book the vehicle.
 */
async function choose(
  view: GridView,
  req: ChargeRequest,
  opts: DispatchOptions,
  progress: { count: number },
  home: string | undefined,
): Promise<DispatchResult> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.deadlineMs;
  const asked = new Set<Member>();
  const attempts: DispatchAttempt[] = [];

  while (asked.size < opts.maxTries) {
    const remainingMs = deadline - now();
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
      if (!member?.healthy) throw homeUnavailable(home, member?.lastError ?? "not in this grid");
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
        throw homeUnavailable(home, describeFailure(err));
      }
      attempts.push(handleFailure(view, member, err));
    } finally {
      view.endAssignment(member, req);
    }
  }

  // Say why every substation we did not get a session from could not take it.
  for (const m of view.members) {
    if (asked.has(m)) continue;
    attempts.push(
      m.healthy && m.load
        ? { substationId: m.load.substationId, outcome: "skipped", reason: viewReason(m, req) }
        : { substationId: m.id ?? m.url, outcome: "failed", reason: m.lastError ?? "unreachable" },
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

function homeUnavailable(substationId: string, why: string): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.HOME_SUBSTATION_UNAVAILABLE,
    `${substationId}, which holds this vehicle's session, is unreachable (${why}); not booked elsewhere, retry later`,
    { substationId },
  );
}

function handleFailure(view: GridView, member: Member, err: unknown): DispatchAttempt {
  const substationId = member.id ?? member.url;
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
      return { substationId, outcome: "failed", reason: "unreachable" };
    case "uncertain":
      view.markFailed(member, describeFailure(err));
      throw new GridError(
        "SERVICE_UNAVAILABLE",
        reasons.SUBSTATION_TIMEOUT,
        `${substationId} did not answer in time (${describeFailure(err)}); not retried elsewhere to avoid a double booking`,
        { substationId },
      );
  }
}

function viewReason(m: Member, req: ChargeRequest): string {
  const load = m.load;
  if (!load) return "unknown";
  if (load.draining) return reasons.SUBSTATION_DRAINING;
  const decision = decideAdmission(load, load.committedMinKw + m.inflightMinKw, req.minKw);
  return decision.admitted ? "not tried" : decision.reason;
}
