import type { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { GridError } from "./errors.ts";
import { formatError } from "./trpc.ts";

export const JSON_HEADERS = { "content-type": "application/json" };

/** Seconds a refused caller should wait before trying again (quotas, a full queue); 0 when it does not say. */
export function retryAfterOf(error: TRPCError): number {
  const s = error instanceof GridError ? error.details?.retryAfterS : undefined;
  return typeof s === "number" && Number.isFinite(s) && s > 0 ? Math.ceil(s) : 0;
}

/** A TRPCError in tRPC's error envelope, formatted as every app formats errors (trpc.ts). */
export function errorShape(error: TRPCError, path?: string) {
  return formatError({
    error,
    shape: {
      message: error.message,
      code: TRPC_ERROR_CODES_BY_KEY[error.code],
      data: { code: error.code, httpStatus: getHTTPStatusCodeFromError(error), path },
    },
  });
}

/** A TRPCError as tRPC's fetch adapter would answer it: same envelope, status and formatted shape. */
export function errorResponse(error: TRPCError, path?: string): Response {
  const httpStatus = getHTTPStatusCodeFromError(error);
  const shape = errorShape(error, path);
  const retryAfterS = retryAfterOf(error);
  return new Response(JSON.stringify({ error: shape }), {
    status: httpStatus,
    headers: retryAfterS > 0 ? { ...JSON_HEADERS, "retry-after": String(retryAfterS) } : JSON_HEADERS,
  });
}

/** For tRPC's fetch adapter (batches): the same Retry-After the lean path sets, from the calls' errors. */
export function retryAfterMeta({ errors }: { errors: TRPCError[] }): { headers?: Record<string, string> } {
  const retryAfterS = Math.max(0, ...errors.map(retryAfterOf));
  return retryAfterS > 0 ? { headers: { "retry-after": String(retryAfterS) } } : {};
}
