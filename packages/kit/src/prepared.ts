/**
 * One trust check per boundary. A procedure is prepared once at start, observe → trust check → input check
 * → handler, instead of tRPC's middleware chain, which copies its options and context at every step of
 * every call:
 * - an internal procedure called on an authenticated link (the link proved the service token when it
 *   opened: that was the trust check);
 * - a public query or mutation on the lean HTTP path (the caller identified as the chain identifies it, then
 *   the app's gate, its rate quota).
 * On an internal hop, a dispatch request the entry checked already is recognised in one pass
 * (`asCheckedDispatchRequest`) instead of parsed again; anything else takes its full schema.
 * Answers, error shapes and metrics are the chain's (test/grid/prepared-link.test.ts and
 * prepared-public.test.ts compare them call by call).
 */
import { asCheckedDispatchRequest, dispatchRequestSchema } from "@evgrid/contract";
import {
  type CallSignal,
  type PreparedCall,
  type ProcedureDef,
  readRawInput,
  UnreadableInput,
} from "@evgrid/link";
import { context } from "@opentelemetry/api";
import { TRPCError } from "@trpc/server";
import { getParseFn, getTRPCErrorFromUnknown } from "@trpc/server/unstable-core-do-not-import";
import { procedureObserver } from "./observe.ts";
import {
  failureOf,
  gateCheckOf,
  identifyCaller,
  internalChain,
  publicChain,
  type RequestContext,
  traceCarrier,
} from "./trpc.ts";

type ProcedureType = ProcedureDef["type"];

/** What tRPC's chain hands a resolver; the abort signal is the call's, made only if the resolver reads it. */
class ResolverOptions {
  readonly batchIndex = 0;
  constructor(
    readonly ctx: RequestContext,
    readonly input: unknown,
    readonly path: string,
    readonly type: ProcedureType,
    readonly meta: unknown,
    private readonly call: CallSignal,
    private readonly rawInput: unknown,
  ) {}
  get signal(): AbortSignal {
    return this.call.signal;
  }
  getRawInput(): Promise<unknown> {
    return readRawInput(this.rawInput);
  }
}

const isInputCheck = (middleware: unknown) => (middleware as { _type?: unknown })._type === "input";

/** What every prepared procedure does after its trust check: its input parsed, then its resolver. */
type Handle = (ctx: RequestContext, rawInput: unknown, call: CallSignal) => Promise<unknown>;

/**
 * The resolver behind `head` middlewares and at most one `.input`, run after `withContext` (the trust check,
 * returning the context those middlewares would have made); undefined if the chain holds anything else.
 * `checked`: inputs recognised without their schema (CHECKED_ON_ENTRY, internal hops only).
 */
function prepareHandle(
  def: ProcedureDef,
  path: string,
  head: number,
  withContext: (ctx: RequestContext) => RequestContext,
  checked?: Map<unknown, (input: unknown) => unknown>,
): Handle | undefined {
  const chain = def.middlewares;
  const inputs = def.inputs.length;
  if (inputs > 1 || def.resolver === undefined || chain.length !== head + inputs + 1) return undefined;
  if (inputs === 1 && !isInputCheck(chain[head])) return undefined;
  const parse = inputs === 1 ? getParseFn(def.inputs[0] as Parameters<typeof getParseFn>[0]) : null;
  // An input its schema checked where it entered the grid, recognised as such (undefined: not recognised).
  const recognise = inputs === 1 ? checked?.get(def.inputs[0]) : undefined;
  const resolver = def.resolver as unknown as (opts: ResolverOptions) => unknown;
  const { type, meta } = def;
  // tRPC's input middleware: the input parsed (its schema's own errors, as BAD_REQUEST); no parser, no input.
  return async (ctx, rawInput, call) => {
    const resolverCtx = withContext(ctx);
    let input = recognise?.(rawInput);
    if (parse !== null && input === undefined) {
      // Not JSON (the lean HTTP path): refused here, at the input step, as tRPC's input middleware does.
      if (rawInput instanceof UnreadableInput) throw rawInput.error;
      try {
        input = await parse(rawInput);
      } catch (cause) {
        throw new TRPCError({ code: "BAD_REQUEST", cause });
      }
    }
    return await resolver(new ResolverOptions(resolverCtx, input, path, type, meta, call, rawInput));
  };
}

/** `handle` observed as the chain's first middleware observes it: one span and one point per call. */
function observed(path: string, handle: Handle): PreparedCall<RequestContext> {
  return async (ctx, rawInput, call) => {
    if (ctx.obs === null) {
      try {
        return await handle(ctx, rawInput, call);
      } catch (cause) {
        throw getTRPCErrorFromUnknown(cause);
      }
    }
    const observer = procedureObserver(ctx.obs, path);
    const startedMs = performance.now();
    const scope = observer.open(traceCarrier(ctx));
    try {
      const data = scope?.runIn
        ? await context.with(scope.runIn, handle, undefined, ctx, rawInput, call)
        : await handle(ctx, rawInput, call);
      observer.close(scope, startedMs, undefined);
      return data;
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      observer.close(scope, startedMs, failureOf(error));
      throw error;
    }
  };
}

/**
 * Inputs checked in full where they entered the grid (the public API, the gateway), recognised on an
 * internal hop in one pass (`asCheckedDispatchRequest`); what is not recognised takes the full schema.
 */
const CHECKED_ON_ENTRY = new Map<unknown, (input: unknown) => unknown>([
  [dispatchRequestSchema, (input) => asCheckedDispatchRequest(input)],
]);

const startsWith = (chain: readonly unknown[], head: readonly unknown[]) =>
  head.every((middleware, i) => chain[i] === middleware);

/**
 * Prepares an internal procedure (`internalProcedure`, at most one `.input`, then its handler); anything else
 * (public procedures, an output check, a middleware of an app's own) is left to tRPC's chain (undefined).
 */
export function prepareInternal(def: ProcedureDef, path: string): PreparedCall<RequestContext> | undefined {
  if (!startsWith(def.middlewares, internalChain)) return undefined;
  const handle = prepareHandle(
    def,
    path,
    internalChain.length,
    (ctx) => {
      // The trust check was the link's handshake; a call with a request must take the chain's token check.
      if (ctx.req !== null) throw new Error(`${path}: prepared calls are for authenticated links only`);
      return ctx;
    },
    CHECKED_ON_ENTRY,
  );
  return handle && observed(path, handle);
}

/**
 * Prepares a public query or mutation (`publicProcedure` or `gatedPublicProcedure`, at most one `.input`,
 * then its handler) for the lean HTTP path: the caller identified (the API key, the service token or the
 * address), the gate's check, the input parsed, the handler, in the chain's order and with its errors.
 * Anything else is left to tRPC's chain (undefined).
 */
export function preparePublic(def: ProcedureDef, path: string): PreparedCall<RequestContext> | undefined {
  if (def.type === "subscription" || !startsWith(def.middlewares, publicChain)) return undefined;
  const check = gateCheckOf(def.middlewares[publicChain.length]);
  const head = publicChain.length + (check ? 1 : 0);
  const handle = prepareHandle(def, path, head, (ctx) => {
    const caller = identifyCaller(ctx);
    check?.(caller);
    return { ...ctx, caller } as RequestContext;
  });
  return handle && observed(path, handle);
}
