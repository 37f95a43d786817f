import { errorDataOf } from "@evgrid/contract";
import { createTRPCClient, type TRPCClient, TRPCClientError, type TRPCLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import { observable } from "@trpc/server/observable";
import { type RpcObservability, startClientCall } from "./observe.ts";

export interface InternalClientOptions {
  timeoutMs: number;
  /** With it, every call is timed and (tracing on) a CLIENT span carrying `traceparent`. */
  obs?: RpcObservability;
  /** The service called, for span names and metric labels. */
  peer?: string;
}

interface Envelope {
  result?: { data: unknown };
  error?: unknown;
}

/**
 * The terminating link of internal clients: one plain tRPC HTTP call per operation (POST /trpc/<mutation>
 * with the input as body, GET /trpc/<query>?input=), the same wire format as tRPC's httpLink, without its
 * per-call machinery. Measured in BENCHMARKS.md: tRPC's httpLink roughly halved a hop's throughput here.
 * Every call has a timeout; it also ends when the caller's signal aborts.
 */
function leanHttpLink(baseUrl: string, opts: InternalClientOptions): TRPCLink<AnyRouter> {
  const root = `${baseUrl.replace(/\/$/, "")}/trpc`;
  const peer = opts.peer ?? baseUrl;
  return () =>
    ({ op }) =>
      observable((observer) => {
        const call = opts.obs ? startClientCall(opts.obs, peer, op.path) : null;
        const timeout = AbortSignal.timeout(opts.timeoutMs);
        const signal = op.signal ? AbortSignal.any([op.signal, timeout]) : timeout;
        const isQuery = op.type === "query";
        const url =
          isQuery && op.input !== undefined
            ? `${root}/${op.path}?input=${encodeURIComponent(JSON.stringify(op.input))}`
            : `${root}/${op.path}`;
        fetch(url, {
          method: isQuery ? "GET" : "POST",
          headers: isQuery ? call?.headers : { "content-type": "application/json", ...call?.headers },
          body: isQuery || op.input === undefined ? undefined : JSON.stringify(op.input),
          signal,
        })
          .then(async (res) => {
            const envelope = (await res.json()) as Envelope;
            if (envelope.error !== undefined || !envelope.result) {
              throw TRPCClientError.from(envelope as never, { meta: { response: res } });
            }
            call?.end("OK");
            observer.next({ result: { type: "data", data: envelope.result.data } });
            observer.complete();
          })
          .catch((err: unknown) => {
            const error = err instanceof TRPCClientError ? err : TRPCClientError.from(err as Error);
            call?.end(errorDataOf(error)?.code ?? "UNAVAILABLE", error.message);
            observer.error(error);
          });
        // Nothing to tear down: the call ends by itself, or by its timeout or the caller's signal.
        return () => {};
      });
}

/**
 * A typed client for another app's router (types only are imported from it), with a timeout on every
 * call. Bun's fetch keeps connections alive, so a long-lived client reuses its sockets.
 */
export function internalClient<TRouter extends AnyRouter>(
  baseUrl: string,
  opts: InternalClientOptions,
): TRPCClient<TRouter> {
  return createTRPCClient<TRouter>({ links: [leanHttpLink(baseUrl, opts) as unknown as TRPCLink<TRouter>] });
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
