import {
  type Context,
  context,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { createRPCError, type RPCClient, TimeoutError } from "ocpp-rpc";
import type { GatewayMetrics } from "../metrics.ts";

export interface OcppContext {
  tracer: Tracer;
  /** Spans are exported: without, a call gets no span at all (the no-op tracer's would carry nothing new). */
  tracing: boolean;
  metrics: GatewayMetrics;
  callTimeoutMs: number;
}

/** Each action's request and response payloads (the generated types). */
export type ActionTypes = Record<string, { req: object; res: object }>;

/** Runs `fn` once the answer to this call has gone out. */
export type AfterAnswer = (fn: () => void) => void;

/**
 * ocpp-rpc's payloads are untyped. In strict mode it has validated every request it hands a handler and every
 * response it returns against the official schema, the same one our types are generated from: this is the
 * one place that relies on it.
 */
function schemaChecked<T>(payload: unknown): T {
  // biome-ignore lint/suspicious/noExplicitAny: validated against the schema the type is generated from
  const checked: any = payload ?? {};
  return checked;
}

/**
 * One charger's OCPP-J connection with typed actions: `In` the calls it makes to us, `Out` ours to it. Every
 * call, either way, is a span (joined to the transaction's trace where there is one) and a counted message.
 */
export class OcppConnection<In extends ActionTypes, Out extends ActionTypes> {
  private readonly pendingAfter = new Map<string, () => void>();
  /** Settles when the last call of ours asked so far has been answered or has failed. */
  private lastCall: Promise<void> = Promise.resolve();

  constructor(
    readonly client: RPCClient,
    private readonly chargePointId: string,
    private readonly ctx: OcppContext,
    private readonly booted: () => boolean,
  ) {
    // ocpp-rpc emits `response` just before it writes the answer: a microtask queued then runs after it.
    client.on("response", ({ outbound, payload }: { outbound: boolean; payload: unknown[] }) => {
      const id = outbound ? payload[1] : undefined;
      const fn = typeof id === "string" ? this.pendingAfter.get(id) : undefined;
      if (typeof id !== "string" || !fn) return;
      this.pendingAfter.delete(id);
      queueMicrotask(fn);
    });
    // No answer can go out any more: nothing left to wait for.
    client.on("close", () => {
      const fns = [...this.pendingAfter.values()];
      this.pendingAfter.clear();
      for (const fn of fns) queueMicrotask(fn);
    });
  }

  /** Serves an action; until the charger has booted, only BootNotification is. */
  handle<A extends keyof In & string>(
    action: A,
    fn: (req: In[A]["req"], after: AfterAnswer) => Promise<In[A]["res"]> | In[A]["res"],
  ): void {
    this.client.handle(action, ({ params, messageId }) =>
      this.inSpan(SpanKind.SERVER, action, null, async () => {
        if (action !== "BootNotification" && !this.booted()) {
          throw createRPCError("SecurityError", "send BootNotification first");
        }
        const after: AfterAnswer = (run) => {
          if (messageId !== undefined) this.pendingAfter.set(messageId, run);
        };
        return fn(schemaChecked<In[A]["req"]>(params), after);
      }),
    );
  }

  /**
   * Calls the charger; `parent` joins the call to a transaction's trace. The timeout is ours, not ocpp-rpc's:
   * its own arms a promise timer per call and aborts it, throwing an AbortError, on every answer (a fifth of
   * the gateway's CPU per SetChargingProfile in the re-share profile); a plain timer aborts only a late call.
   */
  async call<A extends keyof Out & string>(
    action: A,
    params: Out[A]["req"],
    parent: SpanContext | null,
  ): Promise<Out[A]["res"]> {
    const res = await this.inSpan(SpanKind.CLIENT, action, parent, () => this.callWithin(action, params));
    return schemaChecked<Out[A]["res"]>(res);
  }

  /**
   * One call of ours out at a time (OCPP-J; ocpp-rpc would queue them too), each timed from when it goes out:
   * timed from when it was asked, a limit queued behind a slow answer (a charger writing its settings to
   * flash at boot) timed out, and an honest charger was taken for silent (a review).
   */
  private async callWithin(action: string, params: object): Promise<unknown> {
    const before = this.lastCall;
    let done = () => {};
    this.lastCall = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await before;
      return await this.timedCall(action, params);
    } finally {
      done();
    }
  }

  private async timedCall(action: string, params: object): Promise<unknown> {
    const late = new AbortController();
    const timer = setTimeout(() => late.abort("Call timeout"), this.ctx.callTimeoutMs);
    try {
      return await this.client.call(action, params, {
        callTimeoutMs: Number.POSITIVE_INFINITY,
        signal: late.signal,
      });
    } catch (err) {
      // ocpp-rpc rejects an aborted call with an AbortError: the pusher and the metrics know it as a timeout.
      throw late.signal.aborted ? new TimeoutError("Call timeout") : err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A span per OCPP call, in either direction; a call with a parent joins that trace (its dispatch's). */
  private inSpan<T>(
    kind: SpanKind,
    action: string,
    parent: SpanContext | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    const direction = kind === SpanKind.SERVER ? "in" : "out";
    if (!this.ctx.tracing) return this.counted(action, direction, fn);
    const ctx: Context = parent ? trace.setSpanContext(context.active(), parent) : context.active();
    return this.ctx.tracer.startActiveSpan(
      `ocpp ${action}`,
      { kind, attributes: { "ocpp.action": action, "ocpp.charge_point": this.chargePointId } },
      ctx,
      async (span) => {
        try {
          return await this.counted(action, direction, fn);
        } catch (err) {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: err instanceof Error ? err.message : String(err),
          });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  /** A counted message, by outcome: ok, timeout, the CALLERROR's code, or error. */
  private async counted<T>(action: string, direction: "in" | "out", fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      this.ctx.metrics.message(action, direction, "ok");
      return out;
    } catch (err) {
      const code = err instanceof Error && "rpcErrorCode" in err ? String(err.rpcErrorCode) : undefined;
      const outcome = err instanceof TimeoutError ? "timeout" : (code ?? "error");
      this.ctx.metrics.message(action, direction, outcome);
      throw err;
    }
  }
}

/** The charging profile id the gateway uses on a connector: each new limit replaces the previous one. */
export const profileIdOf = (connectorId: number) => 1000 + connectorId;
