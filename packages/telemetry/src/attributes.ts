import { randomBytes } from "node:crypto";
import { type Attributes, context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";

/** Span attribute names of this domain, under one namespace (OpenTelemetry naming: dotted, lower case). */
export const attr = {
  vehicleId: "evgrid.vehicle.id",
  substationId: "evgrid.substation.id",
  sessionId: "evgrid.session.id",
  requestedMaxKw: "evgrid.request.max_kw",
  requestedMinKw: "evgrid.request.min_kw",
  allocatedKw: "evgrid.allocated_kw",
  tries: "evgrid.dispatch.tries",
  reason: "evgrid.error.reason",
} as const;

/** Adds attributes to the span of the procedure being served (no-op when tracing is off). */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** What a charge request asked for, on the span serving it. */
export function annotateRequest(req: { vehicleId: string; maxKw: number; minKw: number }): void {
  annotate({
    [attr.vehicleId]: req.vehicleId,
    [attr.requestedMaxKw]: req.maxKw,
    [attr.requestedMinKw]: req.minKw,
  });
}

/** Where a charge request went and what it got, on the span serving it. */
export function annotateGrant(
  session: { substationId: string; sessionId: string; allocatedKw: number },
  tries: number,
): void {
  annotate({
    [attr.substationId]: session.substationId,
    [attr.sessionId]: session.sessionId,
    [attr.allocatedKw]: session.allocatedKw,
    [attr.tries]: tries,
  });
}

/** Histogram buckets for request durations in seconds: 0.5 ms to 10 s. */
export const durationBucketsS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Runs `fn` under an unsampled trace context: spans started inside are not recorded, and the `traceparent`
 * sent to the next service says "not sampled", so its parent-based sampler records nothing either.
 * For background chatter (the balancer's load refresh) that would otherwise flood the trace store.
 */
export function withoutTracing<T>(fn: () => T): T {
  const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: randomBytes(16).toString("hex"),
    spanId: randomBytes(8).toString("hex"),
    traceFlags: TraceFlags.NONE,
  });
  return context.with(unsampled, fn);
}
