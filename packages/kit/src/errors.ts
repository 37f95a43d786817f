import { type DispatchAttempt, errorDataOf, type Reason, reasons } from "@evgrid/contract";
import { classifyCallFailure } from "@evgrid/link/call-failure";
import { TRPCError } from "@trpc/server";

type Code = TRPCError["code"];

/** A TRPCError with a stable machine-readable reason and optional structured details. */
export class GridError extends TRPCError {
  readonly reason: Reason;
  readonly details: Record<string, unknown> | undefined;
  /** Which fields were refused (an input error relayed from the next hop keeps them). */
  fieldErrors: Record<string, string[] | undefined> | undefined;

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
    const relayed = new GridError(data.code as Code, data.reason as Reason, message, data.details);
    relayed.fieldErrors = data.fieldErrors;
    return relayed;
  }
  // What exactly broke (a socket error's text, a runtime hint) is not the caller's business.
  const why = classifyCallFailure(err) === "unreachable" ? "is unreachable" : "did not answer";
  return new GridError("SERVICE_UNAVAILABLE", reasons.UPSTREAM_UNAVAILABLE, `${upstream} ${why}`);
}

/** The most energy `maxKw` can deliver from `nowMs` until `departAtMs` (kWh; 0 once it has passed). */
export const deliverableKwh = (maxKw: number, departAtMs: number, nowMs: number): number =>
  (maxKw * Math.max(0, departAtMs - nowMs)) / 3_600_000;

/**
 * A `strict` request whose energy its maximum cannot deliver by its departure (issue 22): refused wherever it
 * is seen first (the charge-api, before it waits or asks anyone; a substation, on its own clock).
 */
export function strictDepartureCheck(
  req: { maxKw: number; energyKwh?: number; departAt?: string; strict?: boolean },
  nowMs: number,
): { departAtMs: number; maxDeliverableKwh: number } | null {
  if (req.energyKwh === undefined || req.departAt === undefined) return null;
  const departAtMs = Date.parse(req.departAt);
  const maxDeliverableKwh = deliverableKwh(req.maxKw, departAtMs, nowMs);
  if (req.strict && maxDeliverableKwh < req.energyKwh) {
    throw new GridError(
      "BAD_REQUEST",
      reasons.DEPARTURE_UNREACHABLE,
      `${req.energyKwh} kWh cannot be delivered by ${req.departAt}: at most ${maxDeliverableKwh.toFixed(2)} kWh at ${req.maxKw} kW`,
      { field: "energyKwh", maxDeliverableKwh },
    );
  }
  return { departAtMs, maxDeliverableKwh };
}
