import { errorDataOf } from "@evgrid/contract";
import { TRPCClientError } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import type {
  CallObserver,
  CallOptions,
  LinkCallOptions,
  ProcedureNode,
  RouterClient,
} from "./client-types.ts";
import { BUDGET_HEADER, earliest } from "./deadline.ts";
import { Link } from "./link-client.ts";
import { isNotHosted, lateCall } from "./link-failures.ts";

export interface InternalClientOptions {
  timeoutMs: number;
  /** Watches every call (kit's observeCalls: timed, and with tracing on a CLIENT span carrying `traceparent`). */
  observe?: CallObserver;
  /** Sent as `Authorization: Bearer <token>`: internal procedures require the grid's service token. */
  token?: string;
  /**
   * How calls travel: `ws`, one persistent link with every call multiplexed on it (link-client.ts), or
   * `http`, one request per call (tRPC's HTTP wire format). Default `http`; the apps choose `ws` for
   * their internal calls (INTERNAL_TRANSPORT).
   */
  transport?: Transport;
  /**
   * Another link to the same process that carries this client's calls (queries and mutations) for now,
   * naming this peer as `site` (link-sites.ts); undefined: its own link. Asked at every call.
   */
  route?: () => LinkRoute | undefined;
}

/** A link to a process hosting several sites, and the site a call through it is for. */
export interface LinkRoute {
  link: Link;
  site: string;
  /** That link's process refused a call for `site` (it does not host it): stop routing by it. */
  missed?: () => void;
}

export type Transport = "ws" | "http";

interface Envelope {
  result?: { data: unknown };
  error?: unknown;
}

type ProcedureType = "query" | "mutation";

/** Closes a client's link (a `ws` client); `client[closeLink]()`. */
export const closeLink = Symbol("closeLink");
/** A client's own link (a `ws` client; null over `http`): `client[linkOf]`, for other clients to route by. */
export const linkOf = Symbol("linkOf");

/** A typed client: the router's procedures (nested routers too), `[closeLink]()` and `[linkOf]`. */
export type InternalClient<TRouter extends AnyRouter> = RouterClient<TRouter> & {
  [closeLink](): void;
  readonly [linkOf]: Link | null;
};

/**
 * A typed client for another app's router: `client.getLoad.query()`, `client.startSession.mutate(input)`,
 * typed from the router (types only are imported), failing with tRPC's own `TRPCClientError`. Over `http`
 * it speaks tRPC's HTTP wire format (POST /trpc/<mutation> with the input as body, GET /trpc/<query>?input=);
 * over `ws`, tRPC's WebSocket protocol on one persistent link to the peer's /trpc.
 *
 * It is not @trpc/client's proxy: measured in BENCHMARKS.md, its per-call chain (observables, an
 * AbortController aborted after every call) cost ~50 µs of CPU per call, about as much as the rest of a hop.
 * Nested routers are reached by their dotted paths (`client.a.b.query()` calls `a.b`). Every call has a
 * timeout, which `{ context: { timeoutMs } }` may replace and `{ context: { deadlineAtMs } }` shorten, and
 * tells the peer what is left of it (its budget: deadline.ts).
 */
export function internalClient<TRouter extends AnyRouter>(
  baseUrl: string,
  opts: InternalClientOptions,
): InternalClient<TRouter> {
  const root = `${baseUrl.replace(/\/$/, "")}/trpc`;
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
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
        // The budget travels as a header (deadline.ts): what is left of this call's timeout.
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

  /** What is left of a call's deadline; none left: refused unsent (DEADLINE_EXCEEDED, certainly not run). */
  function timeLeft(deadlineAtMs: number, path: string, nowMs: number): number {
    const ms = deadlineAtMs - nowMs;
    if (ms <= 0) throw lateCall(path);
    return ms;
  }

  /**
   * A call on the route's link if there is one, else on this client's own. A route whose process does not
   * host this site (it restarted, the site stopped) refused it unrun: it is told, and the call goes direct
   * with what is left of its deadline (the miss took some of it), or, if nothing is, is not sent at all.
   */
  async function onLink(
    route: LinkRoute | undefined,
    type: ProcedureType,
    path: string,
    input: unknown,
    callOpts: LinkCallOptions,
    deadlineAtMs: number,
  ) {
    if (!route) return (link as Link).call(type, path, input, callOpts);
    callOpts.site = route.site;
    try {
      return await route.link.call(type, path, input, callOpts);
    } catch (err) {
      if (!isNotHosted(err)) throw err;
      route.missed?.();
      callOpts.site = undefined;
      callOpts.timeoutMs = timeLeft(deadlineAtMs, path, Date.now());
      return (link as Link).call(type, path, input, callOpts);
    }
  }

  async function call(path: string, type: ProcedureType, input: unknown, callOpts?: CallOptions) {
    const nowMs = Date.now();
    const deadlineAtMs = earliest(
      nowMs + (callOpts?.context?.timeoutMs ?? opts.timeoutMs),
      callOpts?.context?.deadlineAtMs,
    ) as number;
    const timeoutMs = timeLeft(deadlineAtMs, path, nowMs);
    const traced = opts.observe ? opts.observe(path) : null;
    const signal = callOpts?.context?.signal;
    const route = opts.route?.();
    try {
      const data = link
        ? await onLink(
            route,
            type,
            path,
            input,
            {
              timeoutMs,
              signal,
              traceparent: traced?.headers.traceparent,
              tracestate: traced?.headers.tracestate,
            },
            deadlineAtMs,
          )
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

  // One node per path, made on first use and kept. Its verbs are its own plain properties (a call reads
  // them without a proxy trap, as before nested paths); any other name falls through to its prototype,
  // a proxy that makes the child's node (`a` -> `a.b`).
  const nodes = new Map<string, object>();
  const nodeAt = (path: string): object => {
    let node = nodes.get(path);
    if (node) return node;
    const children = new Proxy(
      {},
      {
        get: (_, key) =>
          // Not a thenable (`await client.x` must not call anything); symbols name no procedure.
          typeof key !== "string" || key === "then" ? undefined : nodeAt(`${path}.${key}`),
      },
    );
    const verbs: ProcedureNode = {
      query: (input, o) => call(path, "query", input, o),
      mutate: (input, o) => call(path, "mutation", input, o),
      subscribe: (input, o) => {
        if (!link) throw new Error("subscriptions need the ws transport");
        const stop = link.subscribe(path, input, o.onData, o.onError ?? (() => {}), o.onComplete);
        return { unsubscribe: stop };
      },
    };
    node = Object.assign(Object.create(children), verbs) as object;
    nodes.set(path, node);
    return node;
  };
  return new Proxy({} as InternalClient<TRouter>, {
    get(_, key) {
      if (key === closeLink) return () => link?.close();
      if (key === linkOf) return link;
      if (typeof key !== "string" || key === "then") return undefined;
      return nodeAt(key);
    },
  });
}
