import { type AnyRouter, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { GridError } from "./errors.ts";
import { formatError, type RequestContext } from "./trpc.ts";

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Serves the everyday tRPC calls itself: one mutation POSTed with a JSON body, or one query by GET with
 * `?input=`. Same URLs, same JSON envelope, same error shape as tRPC's fetch adapter, but through
 * `createCaller`, so every middleware, validator and error formatter still runs. Anything else (batches,
 * wrong methods or content types, unknown paths) returns null and goes to tRPC's own adapter, which
 * answers it as it always does. Measured in BENCHMARKS.md: the adapter roughly halved a hop's throughput.
 */
export function leanTrpcHandler(router: AnyRouter, onError: (error: TRPCError, path: string) => void) {
  const procedures = router._def.procedures as Record<string, { _def: { type: string } } | undefined>;
  return async (
    req: Request,
    url: URL,
    path: string,
    body: string,
    ctx: RequestContext,
  ): Promise<Response | null> => {
    const type = procedures[path]?._def.type;
    if (type === undefined || url.searchParams.has("batch")) return null;
    let input: unknown;
    try {
      if (type === "mutation" && req.method === "POST") {
        input = body.length === 0 ? undefined : JSON.parse(body);
      } else if (type === "query" && req.method === "GET") {
        const raw = url.searchParams.get("input");
        input = raw === null ? undefined : JSON.parse(raw);
      } else {
        return null;
      }
    } catch (cause) {
      return errorResponse(
        new TRPCError({ code: "PARSE_ERROR", message: "input is not valid JSON", cause }),
        path,
      );
    }
    try {
      // The request's signal reaches the procedure: a caller that hangs up can be let go (the wait queue).
      const caller = router.createCaller(ctx, { signal: req.signal }) as Record<
        string,
        (input: unknown) => Promise<unknown>
      >;
      const data = await (caller[path] as (input: unknown) => Promise<unknown>)(input);
      return new Response(JSON.stringify({ result: { data } }), { headers: JSON_HEADERS });
    } catch (err) {
      const error =
        err instanceof TRPCError ? err : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: err });
      onError(error, path);
      return errorResponse(error, path);
    }
  };
}

/** Seconds a refused caller should wait before trying again (quotas, a full queue); 0 when it does not say. */
export function retryAfterOf(error: TRPCError): number {
  const s = error instanceof GridError ? error.details?.retryAfterS : undefined;
  return typeof s === "number" && Number.isFinite(s) && s > 0 ? Math.ceil(s) : 0;
}

/** A TRPCError as tRPC's fetch adapter would answer it: same envelope, status and formatted shape. */
export function errorResponse(error: TRPCError, path?: string): Response {
  const httpStatus = getHTTPStatusCodeFromError(error);
  const shape = formatError({
    error,
    shape: {
      message: error.message,
      code: TRPC_ERROR_CODES_BY_KEY[error.code],
      data: { code: error.code, httpStatus, path },
    },
  });
  const retryAfterS = retryAfterOf(error);
  return new Response(JSON.stringify({ error: shape }), {
    status: httpStatus,
    headers: retryAfterS > 0 ? { ...JSON_HEADERS, "retry-after": String(retryAfterS) } : JSON_HEADERS,
  });
}
