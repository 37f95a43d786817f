import { attr, durationBucketsS, type Telemetry } from "@evgrid/telemetry";
import {
  type Attributes,
  type Context,
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
  /** Each served procedure's observer, prepared on its first call (procedureObserver). */
  procedures: Map<string, ProcedureObserver>;
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
    procedures: new Map(),
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

/** A served call's span, and the trace context it runs in; null when tracing is off and none came in. */
export interface CallScope {
  span: Span | null;
  runIn: Context | null;
}

/**
 * One procedure's observation, prepared once: its span name and attributes, and the histogram's attribute
 * set per outcome code, bound once per (procedure, code) instead of built per call.
 */
export class ProcedureObserver {
  private readonly spanName: string;
  private readonly spanAttributes: Attributes;
  private readonly byCode = new Map<string, Attributes>();

  constructor(
    private readonly obs: RpcObservability,
    private readonly procedure: string,
  ) {
    this.spanName = `${obs.service}/${procedure}`;
    this.spanAttributes = { "rpc.system.name": "trpc", "rpc.method": procedure };
  }

  /**
   * Before the call: with tracing on, a SERVER span (child of the caller's `traceparent`, if any) that is
   * active while it runs, so outgoing calls become its children. With tracing off there is no span at all
   * (no-op spans and context churn cost several percent per hop), but an incoming `traceparent` is still
   * made current, so the next hop continues the caller's trace. Null: nothing to do.
   */
  open(carrier: TraceCarrier): CallScope | null {
    const incoming =
      carrier.get("traceparent") !== undefined
        ? propagation.extract(ROOT_CONTEXT, carrier, carrierGetter)
        : null;
    if (!this.obs.telemetry.tracing) return incoming ? { span: null, runIn: incoming } : null;
    const parent = incoming ?? (carrier.remote ? ROOT_CONTEXT : context.active());
    const span = this.obs.telemetry.tracer.startSpan(
      this.spanName,
      // The service is the span's resource (service.name); each attribute costs export time (BENCHMARKS.md).
      { kind: SpanKind.SERVER, attributes: this.spanAttributes },
      parent,
    );
    return { span, runIn: trace.setSpan(parent, span) };
  }

  /** After the call: ends its span (if any) and records its duration under its outcome code. */
  close(scope: CallScope | null, startedMs: number, failure: Failure | undefined): void {
    const code = failure?.code ?? "OK";
    const span = scope?.span;
    if (span) {
      // A span without a status code answered OK: the code is only written when it says something.
      if (failure) {
        span.setAttribute("rpc.response.status_code", code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
        if (failure.reason) span.setAttribute(attr.reason, failure.reason);
      }
      span.end();
    }
    this.obs.serverDuration.record((performance.now() - startedMs) / 1000, this.attributes(code));
  }

  private attributes(code: string): Attributes {
    let attributes = this.byCode.get(code);
    if (attributes === undefined) {
      attributes = { rpc_method: this.procedure, code };
      this.byCode.set(code, attributes);
    }
    return attributes;
  }
}

/** The observer of one procedure of this app, made on its first call (procedures are a fixed set). */
export function procedureObserver(obs: RpcObservability, procedure: string): ProcedureObserver {
  let observer = obs.procedures.get(procedure);
  if (observer === undefined) {
    observer = new ProcedureObserver(obs, procedure);
    obs.procedures.set(procedure, observer);
  }
  return observer;
}

/** Times one procedure call (tRPC's middleware chain): ProcedureObserver's open, the call, its close. */
export async function observeProcedure<R>(
  obs: RpcObservability,
  carrier: TraceCarrier,
  procedure: string,
  run: () => Promise<R>,
  failureOf: (result: R) => Failure | undefined,
): Promise<R> {
  const startedMs = performance.now();
  const observer = procedureObserver(obs, procedure);
  const scope = observer.open(carrier);
  const result = scope?.runIn ? await context.with(scope.runIn, run) : await run();
  observer.close(scope, startedMs, failureOf(result));
  return result;
}
