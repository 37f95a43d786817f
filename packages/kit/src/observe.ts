import { attr, durationBucketsS, type Telemetry } from "@evgrid/telemetry";
import {
  context,
  type Histogram,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";

/** What the tRPC middleware and client links need from an app's telemetry. */
export interface RpcObservability {
  service: string;
  telemetry: Telemetry;
  serverDuration: Histogram;
  clientDuration: Histogram;
}

export function rpcObservability(telemetry: Telemetry, service: string): RpcObservability {
  const { meter } = telemetry;
  return {
    service,
    telemetry,
    // RED per procedure: the histogram's _count by status code is the request and error rate.
    serverDuration: meter.createHistogram("rpc_server_duration_seconds", {
      description: "tRPC procedures served, by procedure and outcome code",
      unit: "s",
      advice: { explicitBucketBoundaries: durationBucketsS },
    }),
    clientDuration: meter.createHistogram("rpc_client_duration_seconds", {
      description: "tRPC calls made to other services, by peer, procedure and outcome code",
      unit: "s",
      advice: { explicitBucketBoundaries: durationBucketsS },
    }),
  };
}

/**
 * Where a served call's trace context comes from: `remote` calls (HTTP, an internal link) start a trace of
 * their own unless they carry one; in-process calls continue the active context.
 */
export interface TraceCarrier {
  remote: boolean;
  get(key: string): string | undefined;
}

const carrierGetter: TextMapGetter<TraceCarrier> = {
  keys: () => ["traceparent", "tracestate"],
  get: (c, key) => c.get(key),
};

export interface Failure {
  code: string;
  message: string;
  reason: string | undefined;
}

/**
 * Times one procedure call and, with tracing on, wraps it in a SERVER span (child of the caller's
 * `traceparent`, if any) that is active while it runs, so outgoing calls become its children. With tracing
 * off there is no span at all (no-op spans and context churn cost several percent per hop), but an incoming
 * `traceparent` is still made current, so the next hop continues the caller's trace.
 */
export async function observeProcedure<R>(
  obs: RpcObservability,
  carrier: TraceCarrier,
  procedure: string,
  run: () => Promise<R>,
  failureOf: (result: R) => Failure | undefined,
): Promise<R> {
  const startedMs = performance.now();
  const incoming =
    carrier.get("traceparent") !== undefined
      ? propagation.extract(ROOT_CONTEXT, carrier, carrierGetter)
      : null;
  let span: Span | null = null;
  let runIn = incoming;
  if (obs.telemetry.tracing) {
    const parent = incoming ?? (carrier.remote ? ROOT_CONTEXT : context.active());
    span = obs.telemetry.tracer.startSpan(
      `${obs.service}/${procedure}`,
      {
        kind: SpanKind.SERVER,
        // The service is the span's resource (service.name); each attribute costs export time (BENCHMARKS.md).
        attributes: { "rpc.system.name": "trpc", "rpc.method": procedure },
      },
      parent,
    );
    runIn = trace.setSpan(parent, span);
  }
  const result = runIn ? await context.with(runIn, run) : await run();
  const failure = failureOf(result);
  const code = failure?.code ?? "OK";
  if (span) {
    // A span without a status code answered OK: the code is only written when it says something.
    if (failure) {
      span.setAttribute("rpc.response.status_code", code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      if (failure.reason) span.setAttribute(attr.reason, failure.reason);
    }
    span.end();
  }
  obs.serverDuration.record((performance.now() - startedMs) / 1000, { rpc_method: procedure, code });
  return result;
}

/**
 * Starts an outgoing call: with tracing on, a CLIENT span; either way the headers that carry the trace
 * context (tracing off: only if the caller brought one), and the function that ends the call and times it.
 */
export function startClientCall(obs: RpcObservability, peer: string, procedure: string) {
  const startedMs = performance.now();
  const parent = context.active();
  const span = obs.telemetry.tracing
    ? obs.telemetry.tracer.startSpan(
        `${peer}/${procedure}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { "rpc.system.name": "trpc", "rpc.service": peer, "rpc.method": procedure },
        },
        parent,
      )
    : null;
  const headers: Record<string, string> = {};
  if (span) propagation.inject(trace.setSpan(parent, span), headers);
  else if (trace.getSpanContext(parent)) propagation.inject(parent, headers);
  return {
    headers,
    end(code: string, message?: string) {
      if (span) {
        if (code !== "OK") {
          span.setAttribute("rpc.response.status_code", code);
          span.setStatus({ code: SpanStatusCode.ERROR, message });
        }
        span.end();
      }
      obs.clientDuration.record((performance.now() - startedMs) / 1000, {
        peer,
        rpc_method: procedure,
        code,
      });
    },
  };
}
