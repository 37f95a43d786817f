/**
 * A small stock tRPC router (its own initTRPC, no kit) that both servers of the conformance tests serve:
 * queries, mutations, a nested router, typed errors, subscriptions that end, fail, or run until stopped,
 * and a mutation that waits for its abort signal. `Moments` lets a test wait for what the server saw.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError, z } from "zod";

/** Resolves when the server reached a moment (a call started, a call saw its signal abort), by tag. */
export class Moments {
  private readonly waiting = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  private entry(key: string) {
    let e = this.waiting.get(key);
    if (!e) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      e = { promise, resolve };
      this.waiting.set(key, e);
    }
    return e;
  }
  reach(key: string): void {
    this.entry(key).resolve();
  }
  reached(key: string): Promise<void> {
    return this.entry(key).promise;
  }
}

const untilAborted = (signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (!signal || signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });

export function conformanceRouter(moments: Moments) {
  const t = initTRPC.create({
    // No stack in the shape: it differs between two servers' call paths, and is no part of the protocol.
    isDev: false,
    // A formatter of the router's own: both servers must answer with it (the shape, not just the code).
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: { ...shape.data, fields: error.cause instanceof ZodError ? error.cause.issues.length : 0 },
    }),
  });
  return t.router({
    echo: t.procedure.input(z.object({ text: z.string() })).query(({ input }) => ({ said: input.text })),
    add: t.procedure
      .input(z.object({ a: z.number(), b: z.number() }))
      .mutation(({ input }) => ({ sum: input.a + input.b })),
    refuse: t.procedure.query((): { never: true } => {
      throw new TRPCError({ code: "CONFLICT", message: "already booked" });
    }),
    crash: t.procedure.mutation((): number => {
      throw new Error("a bug's own words");
    }),
    nested: t.router({ deep: t.procedure.query(() => "from deep down") }),
    ticks: t.procedure.input(z.object({ count: z.number() })).subscription(async function* ({ input }) {
      for (let i = 0; i < input.count; i++) yield { tick: i };
    }),
    failing: t.procedure.subscription(async function* () {
      yield { tick: 0 };
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: "the feed broke" });
    }),
    forever: t.procedure.input(z.object({ tag: z.string() })).subscription(async function* ({
      input,
      signal,
    }) {
      yield { tick: 0 };
      moments.reach(`${input.tag}:running`);
      await untilAborted(signal);
      moments.reach(`${input.tag}:aborted`);
    }),
    wait: t.procedure.input(z.object({ tag: z.string() })).mutation(async ({ input, signal }) => {
      moments.reach(`${input.tag}:running`);
      await untilAborted(signal);
      moments.reach(`${input.tag}:aborted`);
      return "let go";
    }),
  });
}

export type ConformanceRouter = ReturnType<typeof conformanceRouter>;
