import { type DispatchAttempt, errorDataOf, type Reason, reasons } from "@evgrid/contract";
import { classifyCallFailure } from "@evgrid/link/call-failure";
import { TRPCError } from "@trpc/server";

type Code = TRPCError["code"];

/** A TRPCError with a stable machine-readable reason and optional structured details. */
export class GridError extends TRPCError {
  readonly reason: Reason;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: Code, reason: Reason, message: string, details?: Record<string, unknown>) {
    super({ code, message });
    this.reason = reason;
    this.details = details;
  }
}

/** The caller's deadline (ctx.deadlineAtMs, from the budget its call carried) passed: nothing was started. */
export function deadlineExceeded(what: string, details?: Record<string, unknown>): GridError {
  return new GridError("SERVICE_UNAVAILABLE", reasons.DEADLINE_EXCEEDED, what, details);
}

export function gridFull(attempts: DispatchAttempt[]): GridError {
  const summary = attempts.map((a) => `${a.substationId}: ${a.reason}`).join(", ");
  return new GridError(
    "TOO_MANY_REQUESTS",
    reasons.GRID_FULL,
    `grid full: no substation can supply this vehicle's minimum (${summary || "no substations"})`,
    { substations: attempts },
  );
}

/**
 * Re-raises an error from the next service in the chain with the same code, reason and details, so the
 * public API speaks with the substation's own words. Transport failures become UPSTREAM_UNAVAILABLE.
 */
export function relayUpstreamError(err: unknown, upstream: string): GridError {
  const data = errorDataOf(err);
  if (data) {
    const message = err instanceof Error ? err.message : `${upstream} refused`;
    return new GridError(data.code as Code, data.reason as Reason, message, data.details);
  }
  // What exactly broke (a socket error's text, a runtime hint) is not the caller's business.
  const why = classifyCallFailure(err) === "unreachable" ? "is unreachable" : "did not answer";
  return new GridError("SERVICE_UNAVAILABLE", reasons.UPSTREAM_UNAVAILABLE, `${upstream} ${why}`);
}
