import type { AnyRouter } from "@trpc/server";

type ProcedureType = "query" | "mutation" | "subscription";

type Procedure = ((opts: {
  ctx: unknown;
  path: string;
  getRawInput: () => Promise<unknown>;
  type: ProcedureType;
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>) & { _def: { type: ProcedureType } };

/** One procedure of a router, found once by its path; undefined if there is none. */
export interface ResolvedProcedure<TContext = unknown> {
  type: ProcedureType;
  /** Runs it as tRPC's own adapters do: every middleware, the input validator, the output. */
  call(ctx: TContext, input: unknown, signal: AbortSignal | undefined): Promise<unknown>;
}

/**
 * The router's procedures by path, resolved once at start, so a call runs its procedure with the request's
 * context directly: no caller (tRPC's recursive proxies) is built per request. A procedure is called with the
 * same options tRPC's createCaller and adapters pass it. Nested routers are in `_def.procedures` under their
 * dotted paths (`a.b`), as tRPC flattens them. Lazy routers are not supported (none of ours is lazy).
 *
 * This reads tRPC internals (`_def.procedures`, a procedure's call options): the package's conformance
 * tests pin the tRPC version it was checked against.
 *
 * One table entry per procedure is where a per-procedure pipeline (a check prepared once at start) would go.
 */
export function resolveProcedures<TContext = unknown>(
  router: AnyRouter,
): (path: string) => ResolvedProcedure<TContext> | undefined {
  const table = new Map<string, ResolvedProcedure<TContext>>();
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
