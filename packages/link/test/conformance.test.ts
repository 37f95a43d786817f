/**
 * Conformance with tRPC's WebSocket protocol (the tRPC version pinned in the root catalog, 11.25.2), in both
 * directions: tRPC's own client against our server, and our client against tRPC's own server, with the
 * stock pair as the reference. Every combination must give the same values, the same error shapes (the
 * router's own formatter), the same subscription events, and let the server see a stopped call.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  type ClientEnd,
  ourClient,
  ourServer,
  type ServerEnd,
  stockClient,
  stockServer,
  TOKEN,
} from "./conformance-ends.ts";

setDefaultTimeout(20_000);

const servers = { ours: ourServer, stock: stockServer };
const clients = { ours: ourClient, stock: stockClient };
const pairs = [
  ["stock", "stock"],
  ["stock", "ours"],
  ["ours", "stock"],
  ["ours", "ours"],
] as const;

/** What a failed call looks like to its caller: the class, message and the whole error shape. */
async function failure(call: Promise<unknown>) {
  const err = (await call.then(
    () => new Error("expected a failure"),
    (e: unknown) => e,
  )) as { name?: string; message?: string; shape?: unknown };
  return { name: err.name, message: err.message, shape: err.shape };
}

interface Events {
  data: unknown[];
  error: Awaited<ReturnType<typeof failure>> | null;
  completed: boolean;
}

/** A subscription's events until it ends (completes or fails). */
function collect(start: (on: Parameters<ClientEnd["ticks"]>[1]) => unknown): Promise<Events> {
  return new Promise((resolve) => {
    const events: Events = { data: [], error: null, completed: false };
    start({
      onData: (d) => events.data.push(d),
      onError: (err) => void failure(Promise.reject(err)).then((f) => resolve({ ...events, error: f })),
      onComplete: () => resolve({ ...events, completed: true }),
    });
  });
}

/** One run of every observable behaviour, on one client/server pair. */
async function behaviour(client: ClientEnd) {
  return {
    echo: await client.echo("hello"),
    add: await client.add(2, 3),
    deep: await client.deep(),
    refused: await failure(client.refuse()),
    crashed: await failure(client.crash()),
    invalid: await failure(client.add(Number.NaN, 1)),
    ticks: await collect((on) => client.ticks(3, on)),
    failing: await collect((on) => client.failing(on)),
  };
}

async function withPair<T>(
  clientKind: keyof typeof clients,
  serverKind: keyof typeof servers,
  run: (client: ClientEnd, server: ServerEnd) => Promise<T>,
): Promise<T> {
  await using server = await servers[serverKind]();
  using client = clients[clientKind](server);
  return await run(client, server);
}

describe("the same answers whichever end is ours", () => {
  test("queries, mutations, a nested router, errors (code, data, message), subscriptions", async () => {
    const reference = await withPair("stock", "stock", (c) => behaviour(c));
    // The reference itself says what the protocol gives, so a test of nothing cannot pass.
    expect(reference.echo).toEqual({ said: "hello" });
    expect(reference.deep).toBe("from deep down");
    expect(reference.refused.shape).toMatchObject({ data: { code: "CONFLICT", httpStatus: 409, fields: 0 } });
    expect(reference.invalid.shape).toMatchObject({ data: { code: "BAD_REQUEST" } });
    expect((reference.invalid.shape as { data: { fields: number } }).data.fields).toBeGreaterThan(0);
    expect(reference.ticks).toEqual({
      data: [0, 1, 2].map((tick) => ({ tick })),
      error: null,
      completed: true,
    });
    expect(reference.failing.data).toEqual([{ tick: 0 }]);
    expect(reference.failing.error?.shape).toMatchObject({ data: { code: "PRECONDITION_FAILED" } });
    for (const [clientKind, serverKind] of pairs.slice(1)) {
      const seen = await withPair(clientKind, serverKind, (c) => behaviour(c));
      expect({ pair: `${clientKind} client, ${serverKind} server`, ...seen }).toEqual({
        pair: `${clientKind} client, ${serverKind} server`,
        ...reference,
      });
    }
  });

  test.each(pairs)(
    "%s client, %s server: a stopped subscription's server sees its signal abort",
    async (c, s) => {
      await withPair(c, s, async (client, server) => {
        let first!: () => void;
        const gotFirst = new Promise<void>((resolve) => {
          first = resolve;
        });
        const sub = client.forever("watch", {
          onData: () => first(),
          onError: () => {},
          onComplete: () => {},
        });
        await gotFirst;
        await server.moments.reached("watch:running");
        sub.unsubscribe();
        await server.moments.reached("watch:aborted");
      });
    },
  );
});

describe("our extensions, and stock ends without them", () => {
  test("a call running when its link drops sees its signal abort (tRPC's own server lets it run)", async () => {
    await withPair("ours", "ours", async (client, server) => {
      const call = client.wait("dropped").catch((e: unknown) => e);
      await server.moments.reached("dropped:running");
      client.close();
      await server.moments.reached("dropped:aborted");
      expect(await call).toBeInstanceOf(Error);
    });
  });

  test.each(["ours", "stock"] as const)(
    "our client stops a mutation: it fails at once; a %s server lets the link go on (ours also aborts the call)",
    async (serverKind) => {
      await withPair("ours", serverKind, async (client, server) => {
        const caller = new AbortController();
        const call = failure(client.wait("stopped", caller.signal));
        await server.moments.reached("stopped:running");
        caller.abort();
        expect(await call).toMatchObject({ name: "TRPCClientError", message: "the caller gave up" });
        // subscription.stop for a mutation: our server aborts its signal; tRPC's own ignores it, unharmed.
        if (serverKind === "ours") await server.moments.reached("stopped:aborted");
        expect(await client.echo("still there")).toEqual({ said: "still there" });
      });
    },
  );

  test("tRPC's client gives up a mutation on our server: it fails at once, the link goes on", async () => {
    await withPair("stock", "ours", async (client, server) => {
      const caller = new AbortController();
      const call = client.wait("given up", caller.signal).catch((e: unknown) => e);
      await server.moments.reached("given up:running");
      caller.abort();
      expect(await call).toBeInstanceOf(Error);
      expect(await client.echo("still there")).toEqual({ said: "still there" });
    });
  });

  test("answers come one per frame, unless the client opened with ?batch=1 (ours does)", async () => {
    await using server = await ourServer();
    const frameOfThree = JSON.stringify(
      [1, 2, 3].map((id) => ({ id, method: "query", params: { path: "echo", input: { text: `#${id}` } } })),
    );
    const answersTo = async (query: string) => {
      const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/trpc?${query}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      } as unknown as string[]);
      const frames: unknown[] = [];
      const three = new Promise<void>((resolve) =>
        ws.addEventListener("message", (e) => {
          frames.push(JSON.parse(String(e.data)));
          if (frames.flat().length === 3) resolve();
        }),
      );
      await new Promise((resolve) => ws.addEventListener("open", resolve));
      ws.send(frameOfThree);
      await three;
      ws.close();
      return frames;
    };
    const stock = await answersTo("");
    expect(stock).toHaveLength(3);
    expect(stock.some(Array.isArray)).toBe(false);
    const batched = await answersTo("batch=1");
    // Answered in the same turn, so they leave together: one array, each answer by its id.
    expect(batched).toHaveLength(1);
    expect(
      (batched.flat() as { id: number; result: { data: unknown } }[]).map((a) => [a.id, a.result.data]),
    ).toEqual([
      [1, { said: "#1" }],
      [2, { said: "#2" }],
      [3, { said: "#3" }],
    ]);
  });
});
