import { errorDataOf } from "@evgrid/contract";
import { type TRPCClient, TRPCClientError } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { BUDGET_HEADER, earliest, lateCall } from "./deadline.ts";
import { Link } from "./link-client.ts";
import { type RpcObservability, startClientCall } from "./observe.ts";
import { bearer } from "./token.ts";

export interface InternalClientOptions {
  timeoutMs: number;
  /** With it, every call is timed and (tracing on) a CLIENT span carrying `traceparent`. */
  obs?: RpcObservability;
  /** The service called, for span names and metric labels. */
  peer?: string;
  /** Sent as `Authorization: Bearer <token>`: internal procedures require the grid's service token. */
  token?: string;
  /**
   * How calls travel: `ws`, one persistent link with every call multiplexed on it (link-client.ts), or
   * `http`, one request per call (tRPC's HTTP wire format). Default `http`; the apps choose `ws` for
   * their internal calls (INTERNAL_TRANSPORT).
   */
  transport?: Transport;
}

export type Transport = "ws" | "http";

interface Envelope {
  result?: { data: unknown };
  error?: unknown;
}

type ProcedureType = "query" | "mutation";

/**
 * Per call: `context.timeoutMs` replaces the client's timeout (a long wait); `context.deadlineAtMs` (epoch
 * ms, the caller's own deadline, e.g. `ctx.deadlineAtMs`) shortens it to what is left, and a call whose
 * deadline has passed is not sent (it fails DEADLINE_EXCEEDED, certainly not run); `context.signal` ends the
 * call early (the caller hung up), which the server sees as a closed request. Every call tells the peer its
 * budget (what is left of its timeout), which becomes the peer's `ctx.deadlineAtMs`.
 */
interface CallOptions {
  context?: {
    timeoutMs?: number;
    deadlineAtMs?: number | null | undefined;
    signal?: AbortSignal | undefined;
  };
}

/** A subscription's callbacks; the call returns the way to stop it (links only). */
export interface SubscribeOptions {
  onData: (data: unknown) => void;
  onError?: (err: Error) => void;
  /** The peer ended it. */
  onComplete?: () => void;
}

/** Closes a client's link (a `ws` client); `client[closeLink]()`. */
export const closeLink = Symbol("closeLink");

export type InternalClient<TRouter extends AnyRouter> = TRPCClient<TRouter> & { [closeLink](): void };

/**
 * A typed client for another app's router: `client.getLoad.query()`, `client.startSession.mutate(input)`,
 * typed from the router (types only are imported), failing with tRPC's own `TRPCClientError`. Over `http`
 * it speaks tRPC's HTTP wire format (POST /trpc/<mutation> with the input as body, GET /trpc/<query>?input=);
 * over `ws`, tRPC's WebSocket protocol on one persistent link to the peer's /trpc.
 *
 * It is not @trpc/client's proxy: measured in BENCHMARKS.md, its per-call chain (observables, an
 * AbortController aborted after every call) cost ~50 µs of CPU per call, about as much as the rest of a hop.
 * Flat routers only (ours are). Every call has a timeout, which `{ context: { timeoutMs } }` may replace.
 */
export function internalClient<TRouter extends AnyRouter>(
  baseUrl: string,
  opts: InternalClientOptions,
): InternalClient<TRouter> {
  const root = `${baseUrl.replace(/\/$/, "")}/trpc`;
  const peer = opts.peer ?? baseUrl;
  const auth = opts.token ? bearer(opts.token) : {};
  const link = opts.transport === "ws" ? new Link(root.replace(/^http/, "ws"), { token: opts.token }) : null;

  async function overHttp(
    url: string,
    type: ProcedureType,
    input: unknown,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
    traceHeaders: Record<string, string> | undefined,
  ) {
    // A timer cleared when the call ends: AbortSignal.timeout() would fire later for every call that
    // finished long ago, and under load those stale aborts cost more CPU than the calls themselves.
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("timed out", "TimeoutError")),
      timeoutMs,
    );
    const callerGone = () => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) callerGone();
    else callerSignal?.addEventListener("abort", callerGone, { once: true });
    const isQuery = type === "query";
    try {
      const res = await fetch(url, {
        method: isQuery ? "GET" : "POST",
        headers: isQuery
          ? { ...auth, ...traceHeaders, [BUDGET_HEADER]: String(timeoutMs) }
          : {
              "content-type": "application/json",
              ...auth,
              ...traceHeaders,
              [BUDGET_HEADER]: String(timeoutMs),
            },
        body: isQuery || input === undefined ? undefined : JSON.stringify(input),
        signal: controller.signal,
      });
      const envelope = (await res.json()) as Envelope;
      if (envelope.error !== undefined || !envelope.result) {
        throw TRPCClientError.from(envelope as never, { meta: { response: res } });
      }
      return envelope.result.data;
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", callerGone);
    }
  }

  async function call(path: string, type: ProcedureType, input: unknown, callOpts?: CallOptions) {
    const nowMs = Date.now();
    const deadlineAtMs = earliest(
      nowMs + (callOpts?.context?.timeoutMs ?? opts.timeoutMs),
      callOpts?.context?.deadlineAtMs,
    ) as number;
    const timeoutMs = deadlineAtMs - nowMs;
    if (timeoutMs <= 0) throw lateCall(path);
    const traced = opts.obs ? startClientCall(opts.obs, peer, path) : null;
    const signal = callOpts?.context?.signal;
    try {
      const data = link
        ? await link.call(type, path, input, {
            timeoutMs,
            signal,
            traceparent: traced?.headers.traceparent,
            tracestate: traced?.headers.tracestate,
          })
        : await overHttp(
            type === "query" && input !== undefined
              ? `${root}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`
              : `${root}/${path}`,
            type,
            input,
            timeoutMs,
            signal,
            traced?.headers,
          );
      traced?.end("OK");
      return data;
    } catch (err) {
      const error = err instanceof TRPCClientError ? err : TRPCClientError.from(err as Error);
      traced?.end(errorDataOf(error)?.code ?? "UNAVAILABLE", error.message);
      throw error;
    }
  }

  const procedures = new Map<string, unknown>();
  return new Proxy({} as InternalClient<TRouter>, {
    get(_, path) {
      if (path === closeLink) return () => link?.close();
      if (typeof path !== "string") return undefined;
      let procedure = procedures.get(path);
      if (!procedure) {
        procedure = {
          query: (input?: unknown, o?: CallOptions) => call(path, "query", input, o),
          mutate: (input?: unknown, o?: CallOptions) => call(path, "mutation", input, o),
          subscribe: (input: unknown, o: SubscribeOptions) => {
            if (!link) throw new Error("subscriptions need the ws transport");
            const stop = link.subscribe(path, input, o.onData, o.onError ?? (() => {}), o.onComplete);
            return { unsubscribe: stop };
          },
        };
        procedures.set(path, procedure);
      }
      return procedure;
    },
  });
}

/**
 * How a call failed, from the caller's point of view:
 * - `answered`: the server replied with a typed error (it decided; nothing half-done);
 * - `unreachable`: no connection was made, so the server certainly did nothing;
 * - `uncertain`: timeout or broken connection; the server may or may not have acted.
 */
export type CallFailure = "answered" | "unreachable" | "uncertain";

export function classifyCallFailure(err: unknown): CallFailure {
  if (errorDataOf(err)) return "answered";
  const cause = err instanceof Error ? (err.cause ?? err) : err;
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused" || code === "ENOTFOUND") return "unreachable";
  return "uncertain";
}

export function describeFailure(err: unknown): string {
  const cause = err instanceof Error ? (err.cause ?? err) : err;
  if (cause instanceof Error) return cause.name === "TimeoutError" ? "timed out" : cause.message;
  return String(cause);
}

/**
 * A link subscription as an async generator: every value until the peer ends it, its error thrown, and the
 * subscription stopped when the consumer stops reading or `signal` aborts. Values wait in a queue of at most
 * `maxQueued`; past it the generator fails rather than hold an unbounded backlog.
 */
export async function* subscriptionValues<T>(
  subscribe: (o: Required<SubscribeOptions>) => { unsubscribe(): void },
  signal?: AbortSignal,
  maxQueued = 10_000,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let failure: Error | null = null;
  let done = false;
  let wake: (() => void) | null = null;
  const notify = () => wake?.();
  const sub = subscribe({
    onData: (data) => {
      if (queue.length >= maxQueued) failure ??= new Error(`more than ${maxQueued} values waiting`);
      else queue.push(data as T);
      notify();
    },
    onError: (err) => {
      failure ??= err;
      notify();
    },
    onComplete: () => {
      done = true;
      notify();
    },
  });
  const aborted = () => {
    done = true;
    notify();
  };
  signal?.addEventListener("abort", aborted, { once: true });
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift() as T;
        continue;
      }
      if (failure) throw failure;
      if (done || signal?.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  } finally {
    signal?.removeEventListener("abort", aborted);
    sub.unsubscribe();
  }
}
