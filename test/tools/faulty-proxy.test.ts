/**
 * The tests' faulty proxy takes calls by procedure on a link too when the link batches them: the calls of one
 * turn leave as one JSON array, and a call swallowed inside one must be swallowed (and counted) all the same.
 * It was not, and a stopSession sent with another call went through on a busy machine.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { eventually, faultyProxy } from "@evgrid/testing";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const done of cleanup.splice(0)) done();
});

/** A link peer that keeps every frame it is sent and answers each call with its own id. */
function upstream() {
  const frames: unknown[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) =>
      srv.upgrade(req) ? undefined : new Response("expected a WebSocket", { status: 400 }),
    websocket: {
      message(ws, raw) {
        const frame = JSON.parse(String(raw)) as { id: number } | { id: number }[];
        frames.push(frame);
        const calls = Array.isArray(frame) ? frame : [frame];
        ws.send(JSON.stringify(calls.map((c) => ({ id: c.id, result: { type: "data", data: c.id } }))));
      },
    },
  });
  cleanup.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, frames };
}

async function client(url: string) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`);
  const answers: unknown[] = [];
  ws.addEventListener("message", (e) => answers.push(...(JSON.parse(String(e.data)) as unknown[])));
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", reject);
  });
  cleanup.push(() => ws.close());
  return { ws, answers };
}

const call = (id: number, path: string) => ({ id, method: "mutation", params: { path, input: {} } });

describe("faulty proxy, a link's batched frame", () => {
  test("the call it hangs is taken out of the batch and counted; the others go on", async () => {
    const peer = upstream();
    using proxy = faultyProxy(peer.url, (p) => p === "stopSession");
    const { ws, answers } = await client(proxy.url);
    ws.send(JSON.stringify([call(1, "stopSession"), call(2, "getSession")]));
    await eventually(() => expect(answers).toHaveLength(1));
    expect(peer.frames).toEqual([[call(2, "getSession")]]);
    expect(proxy.calls("stopSession")).toBe(1);
    expect(proxy.calls("getSession")).toBe(1);
  });

  test("a batch of only hung calls sends nothing; a call it loses the answer of is run, its answer dropped", async () => {
    const peer = upstream();
    using proxy = faultyProxy(
      peer.url,
      (p) => p === "stopSession",
      (p) => p === "reportMeter",
    );
    const { ws, answers } = await client(proxy.url);
    ws.send(JSON.stringify([call(1, "stopSession"), call(2, "stopSession")]));
    ws.send(JSON.stringify([call(3, "reportMeter"), call(4, "getSession")]));
    await eventually(() => expect(answers).toEqual([{ id: 4, result: { type: "data", data: 4 } }]));
    expect(peer.frames).toEqual([[call(3, "reportMeter"), call(4, "getSession")]]);
    expect([proxy.calls("stopSession"), proxy.calls("reportMeter")]).toEqual([2, 1]);
  });
});
