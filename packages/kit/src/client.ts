import { errorDataOf } from "@evgrid/contract";
import {
  createTRPCClient,
  httpBatchStreamLink,
  httpLink,
  type TRPCClient,
  type TRPCLink,
} from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable } from "@trpc/server/observable";
import { BATCH_TRACEPARENT_HEADER, type RpcObservability, startClientCall } from "./observe.ts";

type LinkFetch = NonNullable<Parameters<typeof httpLink<AnyRouter>>[0]["fetch"]>;
type Op = { context: Record<string, unknown> };

export interface InternalClientOptions {
  timeoutMs: number;
  /** With it, every call is a CLIENT span carrying `traceparent`, and is timed. */
  obs?: RpcObservability;
  /** The service called, for span names and metric labels. */
  peer?: string;
  /**
   * Concurrent calls share HTTP requests (tRPC batching, results streamed back as each completes, so a slow
   * call never holds up the others). Default on: per-request HTTP work dominated the cost of a hop.
   */
  batch?: boolean;
}

/**
 * A batch is one HTTP request, but each call in it belongs to its own trace. `traceparent` carries the first
 * call's context (for any standard reader); `evgrid-batch-traceparent` lists every call's, in batch order,
 * and the server's middleware picks its own by batch index.
 */
function batchTraceHeaders(opList: readonly Op[]): Record<string, string> {
  const parents = opList.map(
    (op) => (op.context.traceHeaders as Record<string, string> | undefined)?.traceparent ?? "",
  );
  if (parents.every((p) => p === "")) return {};
  const first = parents[0];
  return { ...(first ? { traceparent: first } : {}), [BATCH_TRACEPARENT_HEADER]: parents.join(",") };
}

/** A link that wraps each call in a CLIENT span and hands its trace headers to httpLink. */
function tracingLink(obs: RpcObservability, peer: string): TRPCLink<AnyRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const call = startClientCall(obs, peer, op.path);
        // The operation's context is its own object: set the headers on it rather than copying the op.
        op.context.traceHeaders = call.headers;
        const sub = next(op).subscribe({
          next: (value) => observer.next(value),
          error: (err) => {
            call.end(errorDataOf(err)?.code ?? "UNAVAILABLE", err.message);
            observer.error(err);
          },
          complete: () => {
            call.end("OK");
            observer.complete();
          },
        });
        return () => sub.unsubscribe();
      });
}

/**
 * A typed client for another app's router, with a timeout on every call. Bun's fetch keeps connections
 * alive, so a long-lived client reuses its sockets. No transformer: plain JSON, like curl and k6 send.
 */
export function internalClient<TRouter extends AnyRouter>(
  baseUrl: string,
  opts: InternalClientOptions,
): TRPCClient<TRouter> {
  // Cast: bun-types' ReadableStream and tRPC's structural stream type disagree only on overloads.
  const timedFetch = ((url: string, init?: RequestInit) => {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(url, { ...init, signal });
  }) as unknown as LinkFetch;
  const url = `${baseUrl.replace(/\/$/, "")}/trpc`;
  const transport =
    opts.batch === false
      ? httpLink<AnyRouter>({ url, fetch: timedFetch, headers: ({ op }) => batchTraceHeaders([op]) })
      : httpBatchStreamLink<AnyRouter>({
          url,
          fetch: timedFetch,
          maxItems: 100,
          headers: ({ opList }) => batchTraceHeaders(opList),
        });
  const links = opts.obs ? [tracingLink(opts.obs, opts.peer ?? baseUrl), transport] : [transport];
  return createTRPCClient<TRouter>({ links: links as unknown as TRPCLink<TRouter>[] });
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
