import { type AnyRouter, getErrorShape, type TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";

export const JSON_HEADERS = { "content-type": "application/json" };

/** What an error answer adds to its HTTP response, as tRPC's adapters take it (`responseMeta`). */
export type ResponseMeta = (opts: { errors: TRPCError[] }) => { headers?: Record<string, string> };

/**
 * A TRPCError in tRPC's error envelope, formatted by the router's own `errorFormatter` exactly as tRPC's
 * adapters format it: the link and the lean HTTP path answer as the stock adapters would.
 */
export function errorShapeOf(
  router: AnyRouter,
  error: TRPCError,
  path: string | undefined,
  type: "query" | "mutation" | "subscription" | "unknown" = "unknown",
  ctx?: unknown,
): unknown {
  return getErrorShape({ config: router._def._config, error, type, path, input: undefined, ctx });
}

/** An error answered over HTTP: the envelope, the status tRPC gives its code, and any `responseMeta` headers. */
export function errorResponseOf(
  router: AnyRouter,
  error: TRPCError,
  path: string | undefined,
  responseMeta?: ResponseMeta,
): Response {
  const shape = errorShapeOf(router, error, path);
  const headers = responseMeta?.({ errors: [error] }).headers;
  return new Response(JSON.stringify({ error: shape }), {
    status: getHTTPStatusCodeFromError(error),
    headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS,
  });
}
