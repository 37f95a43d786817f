/**
 * One trust check per boundary: an internal procedure called on an authenticated link (the link proved the
 * service token when it opened) runs prepared once at start, observe → input check → handler, instead of
 * tRPC's middleware chain, which copies its options and context at every step of every call. Answers,
 * error shapes and metrics are the chain's (test/grid/lean-http.test.ts compares them call by call).
 */
import type { CallSignal, PreparedCall, ProcedureDef } from "@evgrid/link";
import { context } from "@opentelemetry/api";
import { TRPCError } from "@trpc/server";
import { getParseFn, getTRPCErrorFromUnknown } from "@trpc/server/unstable-core-do-not-import";
import { procedureObserver } from "./observe.ts";
import { failureOf, internalChain, type RequestContext, traceCarrier } from "./trpc.ts";

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
    return Promise.resolve(this.rawInput);
  }
}

const isInputCheck = (middleware: unknown) => (middleware as { _type?: unknown })._type === "input";

/**
 * Prepares an internal procedure (`internalProcedure`, at most one `.input`, then its handler); anything else
 * (public procedures, an output check, a middleware of an app's own) is left to tRPC's chain (undefined).
 */
export function prepareInternal(def: ProcedureDef, path: string): PreparedCall<RequestContext> | undefined {
  const chain = def.middlewares;
  const inputs = def.inputs.length;
  const head = internalChain.length;
  if (inputs > 1 || def.resolver === undefined || chain.length !== head + inputs + 1) return undefined;
  if (!internalChain.every((middleware, i) => chain[i] === middleware)) return undefined;
  if (inputs === 1 && !isInputCheck(chain[head])) return undefined;
  const parse = inputs === 1 ? getParseFn(def.inputs[0] as Parameters<typeof getParseFn>[0]) : null;
  const resolver = def.resolver as unknown as (opts: ResolverOptions) => unknown;
  const { type, meta } = def;

  // tRPC's input middleware: the input parsed (its schema's own errors, as BAD_REQUEST); no parser, no input.
  async function handle(ctx: RequestContext, rawInput: unknown, call: CallSignal): Promise<unknown> {
    let input: unknown;
    if (parse !== null) {
      try {
        input = await parse(rawInput);
      } catch (cause) {
        throw new TRPCError({ code: "BAD_REQUEST", cause });
      }
    }
    return await resolver(new ResolverOptions(ctx, input, path, type, meta, call, rawInput));
  }

  return async (ctx, rawInput, call) => {
    // The trust check was the link's handshake; a call with a request must take the chain's token check.
    if (ctx.req !== null) throw new Error(`${path}: prepared calls are for authenticated links only`);
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
