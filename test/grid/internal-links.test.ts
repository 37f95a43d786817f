/**
 * The internal links (tRPC's WebSocket protocol between apps): the protocol is tRPC's own, a link proves
 * the service token before anything runs, bad messages are refused without harm, and a dropped or silent
 * peer fails calls typed and on time.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { classifyCallFailure, closeLink, internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { eventually, spawnApp, startGrid } from "@evgrid/testing";
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";

setDefaultTimeout(30_000);

const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, "ws")}/trpc`;

/** A raw WebSocket to a link endpoint, collecting what the server says and how it closes. */
async function rawLink(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const received: string[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.addEventListener("message", (e) => received.push(String(e.data)));
  ws.addEventListener("close", (e) => {
    closed = { code: e.code, reason: e.reason };
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error("did not open")));
  });
  return { ws, received, closed: () => closed };
}

describe("internal links speak tRPC's WebSocket protocol", () => {
  test("tRPC's own createWSClient + wsLink calls a substation, with the token in connectionParams", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const sub = grid.substations[0] as (typeof grid.substations)[number];
    const ws = createWSClient({ url: wsUrl(sub.url), connectionParams: { token: grid.serviceToken } });
    try {
      const api = createTRPCClient<SubstationRouter>({ links: [wsLink({ client: ws })] });
      expect((await api.getLoad.query()).substationId).toBe("substation-1");
      const { session } = await api.startSession.mutate({ vehicleId: "stock-ws", durationS: 60 });
      expect(await api.getSession.query({ sessionId: session.sessionId })).toMatchObject({
        status: "active",
      });
      // Errors arrive in tRPC's envelope, with our reason.
      const err = await api.getSession.query({ sessionId: "nope" }).catch((e: unknown) => e);
      expect((err as { data?: { reason?: string } }).data?.reason).toBe("INVALID_INPUT");
    } finally {
      ws.close();
    }
  });

  test("many calls in flight on one link, each answered by its id, however many leave in one turn", async () => {
    await using grid = await startGrid({ capacitiesKw: [10_000] });
    const sub = grid.substations[0] as (typeof grid.substations)[number];
    const client = internalClient<SubstationRouter>(sub.url, {
      timeoutMs: 5000,
      token: grid.serviceToken,
      transport: "ws",
    });
    try {
      // 2,000 calls in one turn of the event loop: some 300 KB of calls, more than one frame may carry
      // (64 KiB), so they leave in several frames.
      const n = 2000;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.startSession.mutate({ vehicleId: `m-${i}`, maxKw: 1, durationS: 60 }),
        ),
      );
      expect(results.map((r) => r.session.vehicleId)).toEqual(Array.from({ length: n }, (_, i) => `m-${i}`));
      expect(sub.station.load().activeSessions).toBe(n);
      // A call too big for a frame fails alone, typed, and never reaches the peer; the link carries on.
      const huge = client.getSession.query({ sessionId: "x".repeat(70_000) }).catch((e: unknown) => e);
      const fine = client.getLoad.query();
      expect(((await huge) as { data?: { reason?: string } }).data?.reason).toBe("PAYLOAD_TOO_LARGE");
      expect((await fine).activeSessions).toBe(n);
    } finally {
      client[closeLink]();
    }
  });
});

describe("a link proves the service token before anything runs", () => {
  test("no token, or a wrong one, is refused at the upgrade; a link that promised one and sends anything else is closed", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const url = wsUrl((grid.substations[0] as (typeof grid.substations)[number]).url);
    for (const headers of [{}, { authorization: "Bearer wrong-token-0123456789" }] as Record<
      string,
      string
    >[]) {
      await expect(rawLink(url, headers)).rejects.toThrow("did not open");
    }
    // With connectionParams promised, a call before (or instead of) the token closes the link, unanswered.
    const early = await rawLink(`${url}?connectionParams=1`);
    early.ws.send(JSON.stringify({ id: 1, method: "query", params: { path: "getLoad" } }));
    await eventually(() =>
      expect(early.closed()).toEqual({ code: 4401, reason: "send the service token first" }),
    );
    expect(early.received).toEqual([]);
    const wrong = await rawLink(`${url}?connectionParams=1`);
    wrong.ws.send(JSON.stringify({ method: "connectionParams", data: { token: "wrong" } }));
    await eventually(() => expect(wrong.closed()?.code).toBe(4401));
  });
});

describe("bad messages are refused, and the app is unharmed", () => {
  test("not JSON closes the link; an unknown procedure or method is a typed error; over 64 KiB closes it", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const sub = grid.substations[0] as (typeof grid.substations)[number];
    const auth = { authorization: `Bearer ${grid.serviceToken}` };
    const garbage = await rawLink(wsUrl(sub.url), auth);
    garbage.ws.send("{not json");
    await eventually(() => expect(garbage.closed()).toEqual({ code: 4400, reason: "not a tRPC message" }));

    const odd = await rawLink(wsUrl(sub.url), auth);
    odd.ws.send(JSON.stringify({ id: 1, method: "query", params: { path: "launchMissiles" } }));
    odd.ws.send(JSON.stringify({ id: 2, method: "query", params: { path: "startSession", input: {} } }));
    odd.ws.send(JSON.stringify({ id: 3, method: "teleport", params: { path: "getLoad" } }));
    await eventually(() => expect(odd.received).toHaveLength(3));
    const reasons = odd.received
      .map((m) => JSON.parse(m))
      .map((m) => [m.id, m.error?.data?.code, m.error?.data?.reason]);
    expect(reasons).toEqual([
      [1, "NOT_FOUND", "NOT_FOUND"],
      [2, "METHOD_NOT_SUPPORTED", "INVALID_INPUT"],
      [3, "BAD_REQUEST", "INVALID_INPUT"],
    ]);

    const huge = await rawLink(wsUrl(sub.url), auth);
    huge.ws.send(
      JSON.stringify({
        id: 1,
        method: "mutation",
        params: { path: "startSession", input: { vehicleId: "x".repeat(70_000) } },
      }),
    );
    await eventually(() => expect(huge.closed()?.code).toBe(1009));

    // Still serving, over HTTP and over a fresh link.
    expect((await fetch(`${sub.url}/healthz`)).status).toBe(200);
    const client = internalClient<SubstationRouter>(sub.url, {
      timeoutMs: 2000,
      token: grid.serviceToken,
      transport: "ws",
    });
    expect((await client.getLoad.query()).substationId).toBe("substation-1");
    client[closeLink]();
  });
});

describe("a dropped or silent peer", () => {
  test("kill -9 fails the calls in flight at once, typed; the link comes back when the peer does", async () => {
    const env = {
      SERVICE_TOKEN: "links-test-token-0123456789abcdefg",
      SUBSTATION_DB_PATH: ":memory:",
    };
    const first = await spawnApp("substation", env);
    const port = new URL(first.url).port;
    // A deadline past the test's own timeout: a call that waited for it instead of failing on the dropped
    // link would fail the test (no clock read here).
    const client = internalClient<SubstationRouter>(first.url, {
      timeoutMs: 120_000,
      token: env.SERVICE_TOKEN,
      transport: "ws",
    });
    // A subscription outlives the link: sent again when the peer is back, starting afresh (current level).
    const levels: unknown[] = [];
    const watch = client.watchPower.subscribe(undefined, { onData: (e) => levels.push(e) });
    try {
      expect((await client.getLoad.query()).substationId).toBe("substation-1");
      await eventually(() => expect(levels).toHaveLength(1));
      // Calls out on the link when the process dies: each fails on the drop, not on its deadline.
      const calls = Array.from({ length: 50 }, () =>
        client.getLoad.query().then(
          () => "answered",
          (e: unknown) => e,
        ),
      );
      first.proc.kill("SIGKILL");
      const outcomes = await Promise.all(calls);
      const failed = outcomes.filter((o) => o !== "answered");
      for (const f of failed) expect(["uncertain", "unreachable"]).toContain(classifyCallFailure(f));
      // Down: refused at once (unreachable), not a hang.
      const down = await client.getLoad.query().catch((e: unknown) => e);
      expect(classifyCallFailure(down)).toBe("unreachable");
      // Back on the same port: the link opens again.
      await using second = await spawnApp("substation", { ...env, PORT: port });
      await eventually(async () => expect((await client.getLoad.query()).substationId).toBe("substation-1"), {
        timeoutMs: 10_000,
      });
      await eventually(() => expect(levels).toHaveLength(2), { timeoutMs: 10_000 });
      expect(await second.stop()).toBe(0);
    } finally {
      watch.unsubscribe();
      client[closeLink]();
    }
  });

  test("a peer that accepts the link and never answers: each call times out on its own deadline", async () => {
    let linked = () => {};
    const linkOpen = new Promise<void>((resolve) => (linked = resolve));
    const silent = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, server) {
        if (server.upgrade(req, { data: undefined })) return undefined;
        return new Response("no");
      },
      websocket: { open: () => linked(), message() {} },
    });
    const client = internalClient<SubstationRouter>(`http://127.0.0.1:${silent.port}`, {
      timeoutMs: 300,
      token: "any-token-0123456789",
      transport: "ws",
    });
    // The link is opened first, by a call with time to spare: the calls below time out unanswered, not
    // unsent (a link slower to open than 200 ms would refuse them as unreachable).
    const opening = client.getLoad.query(undefined, { context: { timeoutMs: 30_000 } }).catch(() => {});
    try {
      await linkOpen;
      // Lower bounds and order only: a slow machine makes each later, never earlier nor out of order.
      const t0 = performance.now();
      const settled: string[] = [];
      const timed = (name: string, timeoutMs: number) =>
        client.getLoad.query(undefined, { context: { timeoutMs } }).then(
          () => ({ e: undefined as unknown, ms: performance.now() - t0 }),
          (e: unknown) => {
            settled.push(name);
            return { e, ms: performance.now() - t0 };
          },
        );
      const [short, long] = await Promise.all([timed("short", 200), timed("long", 600)]);
      expect(classifyCallFailure(short.e)).toBe("uncertain");
      expect(classifyCallFailure(long.e)).toBe("uncertain");
      expect(settled).toEqual(["short", "long"]);
      expect(short.ms).toBeGreaterThanOrEqual(190);
      expect(long.ms).toBeGreaterThanOrEqual(590);
    } finally {
      client[closeLink]();
      await opening;
      silent.stop(true);
    }
  });
});
