import { errorDataOf } from "@evgrid/contract";
import { createTRPCClient, httpLink, type TRPCClient, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";

type LinkFetch = NonNullable<Parameters<typeof httpLink<AnyRouter>>[0]["fetch"]>;

/**
 * A typed client for another app's router, with a timeout on every call. Bun's fetch keeps connections
 * alive, so a long-lived client reuses its sockets. No transformer: plain JSON, like curl and k6 send.
 */
export function internalClient<TRouter extends AnyRouter>(
  baseUrl: string,
  timeoutMs: number,
): TRPCClient<TRouter> {
  // Cast: bun-types' ReadableStream and tRPC's structural stream type disagree only on overloads.
  const timedFetch = ((url: string, init?: RequestInit) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(url, { ...init, signal });
  }) as unknown as LinkFetch;
  const link = httpLink<AnyRouter>({ url: `${baseUrl.replace(/\/$/, "")}/trpc`, fetch: timedFetch });
  return createTRPCClient<TRouter>({ links: [link as unknown as TRPCLink<TRouter>] });
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
