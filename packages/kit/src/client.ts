import { errorDataOf } from "@evgrid/contract";
import { createTRPCClient, httpLink, type TRPCClient, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable } from "@trpc/server/observable";
import { type RpcObservability, startClientCall } from "./observe.ts";

type LinkFetch = NonNullable<Parameters<typeof httpLink<AnyRouter>>[0]["fetch"]>;

export interface InternalClientOptions {
  timeoutMs: number;
  /** With it, every call is a CLIENT span carrying `traceparent`, and is timed. */
  obs?: RpcObservability;
  /** The service called, for span names and metric labels. */
  peer?: string;
}

/** A link that wraps each call in a CLIENT span and hands its trace headers to httpLink. */
function tracingLink(obs: RpcObservability, peer: string): TRPCLink<AnyRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const call = startClientCall(obs, peer, op.path);
        const sub = next({ ...op, context: { ...op.context, traceHeaders: call.headers } }).subscribe({
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
  const transport = httpLink<AnyRouter>({
    url: `${baseUrl.replace(/\/$/, "")}/trpc`,
    fetch: timedFetch,
    headers: ({ op }) => (op.context.traceHeaders as Record<string, string> | undefined) ?? {},
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
