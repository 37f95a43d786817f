import { attr, durationBucketsS, type Telemetry } from "@evgrid/telemetry";
import {
  type Context,
  context,
  type Histogram,
  propagation,
  ROOT_CONTEXT,
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

const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

export interface Failure {
  code: string;
  message: string;
  reason: string | undefined;
}

/**
 * Wraps one procedure call in a SERVER span (child of the caller's `traceparent`, if any) and records its
 * duration. The span is active while the procedure runs, so outgoing calls become its children.
 */
export async function observeProcedure<R>(
  obs: RpcObservability,
  req: Request | null,
  call: { procedure: string },
  run: () => Promise<R>,
  failureOf: (result: R) => Failure | undefined,
): Promise<R> {
  if (!obs.telemetry.tracing) return observeUntraced(obs, req, call, run, failureOf);
  const { procedure } = call;
  const parent: Context = req ? incomingContext(req) : context.active();
  const span = obs.telemetry.tracer.startSpan(
    `${obs.service}/${procedure}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system.name": "trpc", "rpc.service": obs.service, "rpc.method": procedure },
    },
    parent,
  );
  const startedMs = performance.now();
  const result = await context.with(trace.setSpan(parent, span), run);
  const failure = failureOf(result);
  const code = failure?.code ?? "OK";
  span.setAttribute("rpc.response.status_code", code);
  if (failure) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    if (failure.reason) span.setAttribute(attr.reason, failure.reason);
  }
  span.end();
  obs.serverDuration.record((performance.now() - startedMs) / 1000, { rpc_method: procedure, code });
  return result;
}

/**
 * Tracing off: no spans at all (profiling showed no-op spans and context churn costing several percent per
 * hop), but an incoming `traceparent` is still made current, so the next hop continues the caller's trace.
 */
async function observeUntraced<R>(
  obs: RpcObservability,
  req: Request | null,
  call: { procedure: string },
  run: () => Promise<R>,
  failureOf: (result: R) => Failure | undefined,
): Promise<R> {
  const startedMs = performance.now();
  const incoming = req?.headers.has("traceparent") === true;
  const result = incoming ? await context.with(incomingContext(req), run) : await run();
  const code = failureOf(result)?.code ?? "OK";
  obs.serverDuration.record((performance.now() - startedMs) / 1000, { rpc_method: call.procedure, code });
  return result;
}

/** The caller's trace context, from the W3C `traceparent` header. */
function incomingContext(req: Request): Context {
  return propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
}

/**
 * Starts the CLIENT span of an outgoing call and returns the headers that carry its context, plus the
 * function that ends it. Used by the tRPC link in client.ts.
 */
export function startClientCall(obs: RpcObservability, peer: string, procedure: string) {
  if (!obs.telemetry.tracing) return startUntracedCall(obs, peer, procedure);
  const parent = context.active();
  const span = obs.telemetry.tracer.startSpan(
    `${peer}/${procedure}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { "rpc.system.name": "trpc", "rpc.service": peer, "rpc.method": procedure },
    },
    parent,
  );
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  const startedMs = performance.now();
  return {
    headers,
    end(code: string, message?: string) {
      span.setAttribute("rpc.response.status_code", code);
      if (code !== "OK") span.setStatus({ code: SpanStatusCode.ERROR, message });
      span.end();
      obs.clientDuration.record((performance.now() - startedMs) / 1000, {
        peer,
        rpc_method: procedure,
        code,
      });
    },
  };
}

/** Tracing off: time the call, and pass on a trace context only if the caller brought one. */
function startUntracedCall(obs: RpcObservability, peer: string, procedure: string) {
  const active = context.active();
  const headers: Record<string, string> = {};
  if (trace.getSpanContext(active)) propagation.inject(active, headers);
  const startedMs = performance.now();
  return {
    headers,
    end(code: string) {
      obs.clientDuration.record((performance.now() - startedMs) / 1000, {
        peer,
        rpc_method: procedure,
        code,
      });
    },
  };
}
