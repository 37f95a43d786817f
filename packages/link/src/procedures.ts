import type { AnyRouter, TRPCError } from "@trpc/server";

type ProcedureType = "query" | "mutation" | "subscription";

/** What a prepare hook reads of a procedure: tRPC's own definition (`_def`), read once at start. */
export interface ProcedureDef {
  type: ProcedureType;
  /** tRPC's chain in order: the builder's `.use(...)` middlewares, one per `.input(...)`, the resolver's last. */
  middlewares: readonly unknown[];
  /** The `.input(...)` parsers, in order. */
  inputs: readonly unknown[];
  /** The function given to `.query/.mutation/.subscription`. */
  resolver?: (opts: never) => unknown;
  meta?: unknown;
}

type Procedure = ((opts: {
  ctx: unknown;
  path: string;
  getRawInput: () => Promise<unknown>;
  type: ProcedureType;
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>) & { _def: ProcedureDef };

/**
 * Input that could not be read (a body or `?input=` that is not JSON). As in tRPC's adapters, its error is
 * thrown where the input is read, after the caller and its quota were checked; a procedure without input
 * never reads it.
 */
export class UnreadableInput {
  constructor(readonly error: TRPCError) {}
}

/** The input a call's chain reads, or the error reading it would have thrown. */
export const readRawInput = (input: unknown): Promise<unknown> =>
  input instanceof UnreadableInput ? Promise.reject(input.error) : Promise.resolve(input);

/** A call's abort signal, read only by the procedures that can be aborted: it is made when first read. */
export interface CallSignal {
  readonly signal: AbortSignal;
}

/**
 * A procedure prepared once at start for calls whose caller is already trusted (an authenticated link): the
 * checks its middlewares would make per call, made once, then the handler. Answers and errors must be those
 * of tRPC's chain (the equivalence tests hold it to that).
 */
export type PreparedCall<TContext> = (ctx: TContext, input: unknown, call: CallSignal) => Promise<unknown>;

/** Prepares a procedure it recognises; undefined leaves it to tRPC's chain. */
export type Prepare<TContext> = (def: ProcedureDef, path: string) => PreparedCall<TContext> | undefined;

/** One procedure of a router, found once by its path; undefined if there is none. */
export interface ResolvedProcedure<TContext = unknown> {
  type: ProcedureType;
  /** Runs it as tRPC's own adapters do: every middleware, the input validator, the output. */
  call(ctx: TContext, input: unknown, signal: AbortSignal | undefined): Promise<unknown>;
  /** The same procedure prepared once by the `prepare` hook, if it recognised it. */
  prepared: PreparedCall<TContext> | undefined;
}

/**
 * The router's procedures by path, resolved once at start, so a call runs its procedure with the request's
 * context directly: no caller (tRPC's recursive proxies) is built per request. A procedure is called with the
 * same options tRPC's createCaller and adapters pass it. Nested routers are in `_def.procedures` under their
 * dotted paths (`a.b`), as tRPC flattens them. Lazy routers are not supported (none of ours is lazy).
 *
 * This reads tRPC internals (`_def.procedures`, a procedure's `_def` and call options): the package's
 * conformance tests pin the tRPC version it was checked against.
 *
 * `prepare` is offered each procedure's definition once: what it returns runs calls that skip tRPC's
 * middleware chain (link-server.ts uses it for calls on an authenticated link).
 */
export function resolveProcedures<TContext = unknown>(
  router: AnyRouter,
  prepare?: Prepare<TContext>,
): (path: string) => ResolvedProcedure<TContext> | undefined {
  const table = new Map<string, ResolvedProcedure<TContext>>();
  for (const [path, value] of Object.entries(router._def.procedures as Record<string, unknown>)) {
    if (typeof value !== "function") continue;
    const procedure = value as Procedure;
    const type = procedure._def.type;
    table.set(path, {
      type,
      call: (ctx, input, signal) =>
        procedure({ ctx, path, getRawInput: () => readRawInput(input), type, signal, batchIndex: 0 }),
      prepared: prepare?.(procedure._def, path),
    });
  }
  return (path) => table.get(path);
}
