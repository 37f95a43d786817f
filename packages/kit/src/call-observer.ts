import type { CallObserver } from "@evgrid/link";
import {
  type Attributes,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { RpcObservability } from "./observe.ts";

/** A call that carries no trace context: one shared, empty set of headers. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** One outgoing call being timed: a record whose `end` is shared, not a closure per call. */
class ClientCall {
  headers = NO_HEADERS;
  private readonly startedMs = performance.now();

  constructor(
    private readonly peer: PeerCalls,
    private readonly procedure: string,
    private readonly span: Span | null,
  ) {}

  end(code: string, message?: string): void {
    const { span } = this;
    if (span) {
      if (code !== "OK") {
        span.setAttribute("rpc.response.status_code", code);
        span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
    }
    this.peer.record(performance.now() - this.startedMs, this.procedure, code);
  }
}

/** Calls to one peer: span attributes per procedure, histogram attributes per (procedure, code), once. */
class PeerCalls {
  private readonly byProcedure = new Map<string, { span: Attributes; byCode: Map<string, Attributes> }>();

  constructor(
    private readonly obs: RpcObservability,
    private readonly peer: string,
  ) {}

  /**
   * Starts an outgoing call: with tracing on, a CLIENT span; either way the headers that carry the trace
   * context (tracing off: only if the caller brought one), and `end`, which ends the call and times it.
   */
  start(procedure: string): ClientCall {
    const parent = context.active();
    const span = this.obs.telemetry.tracing
      ? this.obs.telemetry.tracer.startSpan(
          `${this.peer}/${procedure}`,
          { kind: SpanKind.CLIENT, attributes: this.of(procedure).span },
          parent,
        )
      : null;
    const call = new ClientCall(this, procedure, span);
    if (span) {
      call.headers = {};
      propagation.inject(trace.setSpan(parent, span), call.headers);
    } else if (trace.getSpanContext(parent)) {
      call.headers = {};
      propagation.inject(parent, call.headers);
    }
    return call;
  }

  record(elapsedMs: number, procedure: string, code: string): void {
    const { byCode } = this.of(procedure);
    let attributes = byCode.get(code);
    if (attributes === undefined) {
      attributes = { peer: this.peer, rpc_method: procedure, code };
      byCode.set(code, attributes);
    }
    this.obs.clientDuration.record(elapsedMs / 1000, attributes);
  }

  private of(procedure: string) {
    let found = this.byProcedure.get(procedure);
    if (found === undefined) {
      const span = { "rpc.system.name": "trpc", "rpc.service": this.peer, "rpc.method": procedure };
      found = { span, byCode: new Map() };
      this.byProcedure.set(procedure, found);
    }
    return found;
  }
}

/** Every call an internal client makes to `peer`: timed, and with tracing on a CLIENT span (traceparent). */
export function observeCalls(obs: RpcObservability, peer: string): CallObserver {
  const calls = new PeerCalls(obs, peer);
  return (path) => calls.start(path);
}
