/**
 * The typed client, as the compiler sees it (`bun run typecheck` checks this file; each `@ts-expect-error`
 * fails the typecheck if its line ever compiles) and as it runs: subscription values are typed from the
 * router, nested routers are reached by their dotted paths, and the wrong verb does not compile.
 */
import { expect, test } from "bun:test";
import { closeLink, internalClient } from "../src/internal-client.ts";
import { subscriptionValues } from "../src/subscription-values.ts";
import { ourServer, TOKEN } from "./conformance-ends.ts";
import type { ConformanceRouter } from "./conformance-router.ts";

type Client = ReturnType<typeof internalClient<ConformanceRouter>>;

/** Never run: only compiled. */
export function typeChecks(api: Client, signal: AbortSignal) {
  // A subscription's values have the type the procedure yields, no cast.
  api.ticks.subscribe({ count: 1 }, { onData: (d) => d.tick.toFixed() });
  // @ts-expect-error the values are { tick: number }, not strings
  api.ticks.subscribe({ count: 1 }, { onData: (d: string) => d });
  // @ts-expect-error the input is checked too
  api.ticks.subscribe({ count: "1" }, { onData: () => {} });
  const values: AsyncGenerator<{ tick: number }> = subscriptionValues(api.ticks, { count: 1 }, signal);
  // @ts-expect-error the values' type comes from the procedure, not from the caller (it was `<T>` + `as T`)
  const wrong: AsyncGenerator<string> = subscriptionValues(api.ticks, { count: 1 }, signal);
  // @ts-expect-error no async-iterator form: the proxy does not offer it (tRPC's type promised it)
  api.ticks.subscribe({ count: 1 });
  // Queries and mutations: the output type, and only their own verb.
  const said: Promise<{ said: string }> = api.echo.query({ text: "x" });
  // @ts-expect-error a mutation is not queried
  api.add.query({ a: 1, b: 2 });
  // @ts-expect-error a query is not subscribed to
  api.echo.subscribe({ text: "x" }, { onData: () => {} });
  // A nested router is a path, not a procedure.
  const deep: Promise<string> = api.nested.deep.query();
  // @ts-expect-error a router has no verbs of its own
  api.nested.query();
  return { values, wrong, said, deep };
}

test("a nested router's procedure is called by its dotted path; no node is thenable", async () => {
  await using server = await ourServer();
  const api = internalClient<ConformanceRouter>(server.url, {
    transport: "ws",
    token: TOKEN,
    timeoutMs: 10_000,
  });
  try {
    expect(await api.nested.deep.query()).toBe("from deep down");
    // Awaiting a node (by mistake, or by a framework probing for promises) gives the node back, calls nothing.
    expect(typeof (await (api.nested as unknown as Promise<unknown>))).toBe("object");
    const ticks: number[] = [];
    for await (const v of subscriptionValues(api.ticks, { count: 3 })) ticks.push(v.tick);
    expect(ticks).toEqual([0, 1, 2]);
  } finally {
    api[closeLink]();
  }
});
