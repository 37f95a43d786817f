import {
  type DispatchAttempt,
  type DispatchRequest,
  errorDataOf,
  type RefusalDetails,
  reasons,
  refusalDetailsSchema,
  retryOf,
} from "@evgrid/contract";
import { deadlineExceeded, GridError, gridFull, relayUpstreamError } from "@evgrid/kit";
import { classifyCallFailure, describeFailure, earliest } from "@evgrid/link";
import { firstStop, nextStepAfter, type StartFailure, takesOutOfRotation } from "@evgrid/policy";
import type { Claim, DispatchResult } from "./types.ts";
import type { GridView, Member } from "./view.ts";

/** What a run needs of the dispatcher's settings. */
export interface RunOptions {
  maxTries: number;
  deadlineMs: number;
  callTimeoutMs: number;
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
export class DispatchRun {
  private readonly asked = new Set<Member>();
  private readonly attempts: DispatchAttempt[] = [];
  /** The substation that refused because the vehicle charges there: its claim must say so, not be freed. */
  chargingAt: string | undefined;

  constructor(
    private readonly view: GridView,
    private readonly req: DispatchRequest,
    private readonly opts: RunOptions,
    private readonly now: () => number,
    /** The claim to record each try in (replicas that share state). */
    private readonly claim: Claim,
    /** When the caller gives up (epoch ms); the dispatch's own deadline is never later. */
    private readonly callerDeadlineAtMs: number | null = null,
  ) {}

  /** Substations asked so far. */
  get tries(): number {
    return this.asked.size;
  }

  // biome-ignore lint/complexity/noExcessiveCognitiveComplexity: one dispatch's walk (dispatch store issue)
  async run(home: string | undefined): Promise<DispatchResult> {
    const { view, req, opts } = this;
    const deadline = earliest(this.now() + opts.deadlineMs, this.callerDeadlineAtMs) as number;
    const homeMember = home === undefined ? undefined : view.byId(home);
    const first = firstStop(
      home === undefined ? undefined : { id: home, healthy: homeMember?.healthy ?? false },
    );
    // Down, the home may hold this key's session (an earlier try's): not a certain "none" for a keyed request.
    const keyed = req.idempotencyKey !== undefined;
    if (first === "home_unavailable") throw homeUnavailable(home as string, keyed);
    // Pinned (a vehicle at a charger there, or a home the claim allows no alternative to): that one or none.
    const pinnedId = this.claim.pinned && home !== undefined ? home : req.substationId;
    const pinned = pinnedId === undefined ? undefined : view.byId(pinnedId);
    if (pinnedId !== undefined && !pinned?.healthy)
      throw homeUnavailable(pinnedId, keyed && this.claim.pinned);
    // Pinned elsewhere than where the vehicle was last admitted: that substation may still hold its session,
    // and the pinned one cannot know (a second session for one vehicle). Asked, on this rare path only.
    if (pinned !== undefined && homeMember !== undefined && homeMember !== pinned)
      await this.refuseIfChargingAt(homeMember, deadline);

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
      // Counted in flight at once, in the same turn as the pick: concurrent dispatches that pick while this
      // one waits for its claim's write see it (otherwise a burst herds onto one substation).
      view.beginAssignment(member, req);
      try {
        if (member.id !== null) await this.claim.trying(member.id);
      } catch (err) {
        view.endAssignment(member, req);
        throw err;
      }
      try {
        // What is left now, after the claim's write: a store that stalled must not send a late start.
        const timeoutMs = Math.min(opts.callTimeoutMs, deadline - this.now());
        if (timeoutMs <= 0) throw deadlineExceeded("the deadline passed before a substation was asked");
        // A new key stays new for the first substation asked only (a later one follows a try that may have
        // run), and only without a home (the key's own, from an earlier try, or the vehicle's).
        const sent = this.asked.size === 1 && home === undefined ? req : retryOf(req);
        const res = await member.client.startSession.mutate(sent, {
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

  /** VEHICLE_ALREADY_CHARGING if the vehicle has an active session at `home`; unreachable: not known, refused. */
  private async refuseIfChargingAt(home: Member, deadline: number): Promise<void> {
    const homeId = home.id ?? "unknown";
    const timeoutMs = Math.min(this.opts.callTimeoutMs, deadline - this.now());
    const active = await home.client.findSession
      .query({ vehicleId: this.req.vehicleId }, { context: { timeoutMs } })
      .catch(() => {
        throw homeUnavailable(homeId);
      });
    if (active === null) return;
    this.chargingAt = homeId;
    throw new GridError(
      "CONFLICT",
      reasons.VEHICLE_ALREADY_CHARGING,
      // As the substation says it: who asks may not be who charges, so no session id.
      `vehicle ${this.req.vehicleId} already has an active session; a retry with the key that started it gets it back`,
    );
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
        if (reason === reasons.VEHICLE_ALREADY_CHARGING) this.chargingAt = substationId;
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
export function homeUnavailable(substationId: string, uncertain = false): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.HOME_SUBSTATION_UNAVAILABLE,
    `${substationId}, which holds this vehicle's session, is unreachable; not booked elsewhere, retry later`,
    uncertain ? { substationId, uncertain: true } : { substationId },
  );
}
