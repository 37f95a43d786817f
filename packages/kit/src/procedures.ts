import type { AnyRouter } from "@trpc/server";
import type { RequestContext } from "./trpc.ts";

type Procedure = ((opts: {
  ctx: RequestContext;
  path: string;
  getRawInput: () => Promise<unknown>;
  type: "query" | "mutation" | "subscription";
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>) & { _def: { type: "query" | "mutation" | "subscription" } };

/** One procedure of a router, found once by its path; undefined if there is none. */
export interface ResolvedProcedure {
  type: "query" | "mutation" | "subscription";
  /** Runs it as tRPC's own adapters do: every middleware, the input validator, the output. */
  call(ctx: RequestContext, input: unknown, signal: AbortSignal | undefined): Promise<unknown>;
}

/**
 * The router's procedures by path, resolved once at start, so a call runs its procedure with the request's
 * context directly: no caller (tRPC's recursive proxies) is built per request. A procedure is called with the
 * same options tRPC's createCaller and adapters pass it.
 */
export function resolveProcedures(router: AnyRouter): (path: string) => ResolvedProcedure | undefined {
  const table = new Map<string, ResolvedProcedure>();
  for (const [path, value] of Object.entries(router._def.procedures as Record<string, unknown>)) {
    if (typeof value !== "function") continue;
    const procedure = value as Procedure;
    const type = procedure._def.type;
    table.set(path, {
      type,
      call: (ctx, input, signal) =>
        procedure({ ctx, path, getRawInput: async () => input, type, signal, batchIndex: 0 }),
    });
  }
  return (path) => table.get(path);
}
