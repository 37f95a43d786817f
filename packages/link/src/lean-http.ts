import { type AnyRouter, TRPCError } from "@trpc/server";
import { errorResponseOf, JSON_HEADERS, type ResponseMeta } from "./error-shape.ts";
import { type CallSignal, type Prepare, resolveProcedures, UnreadableInput } from "./procedures.ts";

export interface LeanHttpOptions<TContext = unknown> {
  /** Every failed call, with its path (an app logs its internal errors). */
  onError?: (error: TRPCError, path: string) => void;
  /** Headers an error answer adds (Retry-After), the same function tRPC's fetch adapter is given. */
  responseMeta?: ResponseMeta;
  /** Prepares the procedures it recognises, once; their calls skip tRPC's middleware chain. */
  prepare?: Prepare<TContext>;
}

/** A request's abort signal, read only by a procedure that can be aborted. */
class RequestSignal implements CallSignal {
  constructor(private readonly req: Request) {}
  get signal(): AbortSignal {
    return this.req.signal;
  }
}

/**
 * Serves the everyday tRPC calls itself: one mutation POSTed with a JSON body, or one query by GET with
 * `?input=`. Same URLs, same JSON envelope, same error shape (the router's own formatter) as tRPC's fetch
 * adapter, calling the procedure resolved once at start (no caller built per request), so every middleware,
 * validator and error formatter still runs; or its prepared form (`prepare`), which makes the same checks
 * without tRPC's middleware chain. Anything else (batches, wrong methods or content types, unknown paths)
 * returns null and goes to tRPC's own adapter, which answers it as it always does. Measured in
 * BENCHMARKS.md: the adapter roughly halved a hop's throughput.
 */
export function leanTrpcHandler<TContext>(router: AnyRouter, opts: LeanHttpOptions<TContext> = {}) {
  const procedureAt = resolveProcedures<TContext>(router, opts.prepare);
  const errorResponse = (error: TRPCError, path: string) =>
    errorResponseOf(router, error, path, opts.responseMeta);
  return async (
    req: Request,
    url: URL,
    path: string,
    body: string,
    ctx: TContext,
  ): Promise<Response | null> => {
    const procedure = procedureAt(path);
    if (procedure === undefined || url.searchParams.has("batch")) return null;
    const type = procedure.type;
    let text: string | null;
    if (type === "mutation" && req.method === "POST") text = body;
    else if (type === "query" && req.method === "GET") text = url.searchParams.get("input");
    else return null;
    const input = inputOf(text);
    try {
      // The request's signal reaches the procedure: a caller that hangs up can be let go (the wait queue).
      const data = procedure.prepared
        ? await procedure.prepared(ctx, input, new RequestSignal(req))
        : await procedure.call(ctx, input, req.signal);
      return new Response(JSON.stringify({ result: { data } }), { headers: JSON_HEADERS });
    } catch (err) {
      const error =
        err instanceof TRPCError ? err : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: err });
      opts.onError?.(error, path);
      return errorResponse(error, path);
    }
  };
}

/**
 * As tRPC's adapter reads it: an empty body or `?input=` is no input; text that is not JSON fails only when
 * the procedure reads its input, after its caller and quota were checked (UnreadableInput).
 */
function inputOf(text: string | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : "Invalid input";
    return new UnreadableInput(new TRPCError({ code: "BAD_REQUEST", message, cause }));
  }
}
