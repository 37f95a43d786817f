/**
 * The dispatcher's rules for where a request may go, as pure decisions: the I/O around them (calls,
 * timeouts, marking a substation failed) stays in the balancer.
 */

/** How a startSession call failed, as far as the dispatcher can tell. */
export type StartFailure =
  /** Answered: no room for this minimum. Certainly no session there. */
  | "full"
  /** Answered: drained by an operator, takes no new sessions. */
  | "draining"
  /** Answered 503: cannot take sessions now (journal unavailable, shutting down). */
  | "out_of_service"
  /** Answered: the request itself is wrong (bad input, the vehicle already charges there). */
  | "rejected"
  /** No connection was made: it certainly did nothing. */
  | "unreachable"
  /** Timed out, or the connection broke: it may or may not have started the session. */
  | "uncertain";

export type NextStep =
  /** Ask the next best substation. */
  | "try_next"
  /** Give the caller the substation's own answer. */
  | "relay"
  /** Fail as SUBSTATION_TIMEOUT: a session may exist there, a second one would double-book the vehicle. */
  | "fail_uncertain"
  /** Fail as HOME_SUBSTATION_UNAVAILABLE: the vehicle's (or key's) session may be there. */
  | "fail_home_unavailable";

/**
 * After a failed startSession, may the request go elsewhere? Only when the substation surely did nothing.
 * At the vehicle's home (where its active session or its idempotency key's session is) only "full" proves
 * there is no session to return, so anything else is answered as the home answered, or fails.
 */
export function nextStepAfter(failure: StartFailure, atHome: boolean): NextStep {
  if (atHome) {
    if (failure === "full") return "try_next";
    return failure === "unreachable" || failure === "uncertain" ? "fail_home_unavailable" : "relay";
  }
  switch (failure) {
    case "rejected":
      return "relay";
    case "uncertain":
      return "fail_uncertain";
    default:
      return "try_next";
  }
}

/** Failures that take a substation out of rotation until a probe finds it answering again. */
export function takesOutOfRotation(failure: StartFailure): boolean {
  return failure === "out_of_service" || failure === "unreachable" || failure === "uncertain";
}

/**
 * Where a request is asked first: its home if it has one (it must be asked there, or not at all), else
 * wherever the ranking says.
 */
export function firstStop(
  home: { id: string; healthy: boolean } | undefined,
): "home" | "home_unavailable" | "rank" {
  if (home === undefined) return "rank";
  return home.healthy ? "home" : "home_unavailable";
}
