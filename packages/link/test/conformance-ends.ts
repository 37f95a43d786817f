/**
 * The two ends under test, each started on 127.0.0.1:0 and stopped with `await using`: our server
 * (linkServer on Bun.serve) and tRPC's own (applyWSSHandler on a `ws` WebSocketServer); our client
 * (internalClient over `ws`) and tRPC's own (createWSClient + wsLink).
 */
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import { TRPCError } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import { closeLink, internalClient } from "../src/internal-client.ts";
import { linkServer } from "../src/link-server.ts";
import type { LinkData } from "../src/server-types.ts";
import { type ConformanceRouter, conformanceRouter, Moments } from "./conformance-router.ts";

export const TOKEN = "conformance-token-of-at-least-32-characters";
const bearer = `Bearer ${TOKEN}`;

export interface ServerEnd extends AsyncDisposable {
  kind: "ours" | "stock";
  /** http://127.0.0.1:<port>; the link is at /trpc. */
  url: string;
  moments: Moments;
}

export async function ourServer(): Promise<ServerEnd> {
  const moments = new Moments();
  const links = linkServer({
    router: conformanceRouter(moments),
    authorize: (authorization) => authorization === bearer,
    createContext: () => ({}),
  });
  const server = Bun.serve<LinkData>({
    hostname: "127.0.0.1",
    port: 0,
    websocket: links.websocket,
    fetch: (req, srv) => links.upgrade(req, srv),
  });
  return {
    kind: "ours",
    url: `http://127.0.0.1:${server.port}`,
    moments,
    async [Symbol.asyncDispose]() {
      await links.drain(0);
      await server.stop(true);
    },
  };
}

export async function stockServer(): Promise<ServerEnd> {
  const moments = new Moments();
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const handler = applyWSSHandler({
    wss,
    router: conformanceRouter(moments),
    // The same rule as ours: the token in the upgrade's Authorization, or in connectionParams.
    createContext: ({ req, info }) => {
      if (req.headers.authorization === bearer || info.connectionParams?.token === TOKEN) return {};
      throw new TRPCError({ code: "UNAUTHORIZED", message: "no token" });
    },
  });
  const { port } = wss.address() as { port: number };
  return {
    kind: "stock",
    url: `http://127.0.0.1:${port}`,
    moments,
    async [Symbol.asyncDispose]() {
      handler.broadcastReconnectNotification();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

interface Callbacks {
  onData: (data: { tick: number }) => void;
  onError: (err: Error) => void;
  onComplete: () => void;
}

/** What a test does with either client: the same calls, asked each client's own way. */
export interface ClientEnd extends Disposable {
  kind: "ours" | "stock";
  echo(text: string): Promise<{ said: string }>;
  add(a: number, b: number): Promise<{ sum: number }>;
  refuse(): Promise<unknown>;
  crash(): Promise<unknown>;
  deep(): Promise<string>;
  ticks(count: number, on: Callbacks): { unsubscribe(): void };
  failing(on: Callbacks): { unsubscribe(): void };
  forever(tag: string, on: Callbacks): { unsubscribe(): void };
  /** `wait`, with a signal the test aborts. */
  wait(tag: string, signal?: AbortSignal): Promise<string>;
  /** Drops the link (the WebSocket closes). */
  close(): void;
}

type Unsubscribable = { unsubscribe(): void };

/** The calls both typed clients offer alike (each client type must fit it: a check of its own). */
interface CommonApi {
  echo: { query(input: { text: string }): Promise<{ said: string }> };
  add: { mutate(input: { a: number; b: number }): Promise<{ sum: number }> };
  refuse: { query(): Promise<unknown> };
  crash: { mutate(): Promise<unknown> };
  nested: { deep: { query(): Promise<string> } };
  ticks: { subscribe(input: { count: number }, on: Callbacks): Unsubscribable };
  failing: { subscribe(input: undefined, on: Callbacks): Unsubscribable };
  forever: { subscribe(input: { tag: string }, on: Callbacks): Unsubscribable };
}

const commonCalls = (api: CommonApi) => ({
  echo: (text: string) => api.echo.query({ text }),
  add: (a: number, b: number) => api.add.mutate({ a, b }),
  refuse: () => api.refuse.query(),
  crash: () => api.crash.mutate(),
  deep: () => api.nested.deep.query(),
  ticks: (count: number, on: Callbacks) => api.ticks.subscribe({ count }, on),
  failing: (on: Callbacks) => api.failing.subscribe(undefined, on),
  forever: (tag: string, on: Callbacks) => api.forever.subscribe({ tag }, on),
});

export function ourClient(server: ServerEnd): ClientEnd {
  const api = internalClient<ConformanceRouter>(server.url, {
    transport: "ws",
    token: TOKEN,
    timeoutMs: 10_000,
  });
  return {
    kind: "ours",
    // Subscription values are typed from the router: `api` fits CommonApi's `{ tick: number }` callbacks.
    ...commonCalls(api),
    wait: (tag, signal) => api.wait.mutate({ tag }, { context: { signal } }),
    close: () => api[closeLink](),
    [Symbol.dispose]: () => api[closeLink](),
  };
}

export function stockClient(server: ServerEnd): ClientEnd {
  const ws = createWSClient({
    url: `${server.url.replace(/^http/, "ws")}/trpc`,
    connectionParams: { token: TOKEN },
  });
  const api = createTRPCClient<ConformanceRouter>({ links: [wsLink({ client: ws })] });
  return {
    kind: "stock",
    ...commonCalls(api),
    wait: (tag, signal) => api.wait.mutate({ tag }, signal ? { signal } : undefined),
    close: () => void ws.close(),
    [Symbol.dispose]: () => void ws.close(),
  };
}
