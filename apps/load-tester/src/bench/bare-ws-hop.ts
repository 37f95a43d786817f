/**
 * One hop of the benchmark's bare WebSocket chain, the floor of the transport the internal links use: it
 * takes the request over HTTP (from the load generator) or over a WebSocket (from the previous hop), forwards
 * its body to the next hop over one persistent WebSocket, many calls in flight by message id, and returns the
 * answer; the last hop answers a fixed session-shaped JSON. Nothing else: no validation, no telemetry.
 *   PORT=0 NEXT_URL=ws://127.0.0.1:9001 bun bare-ws-hop.ts
 */
import type { ServerWebSocket } from "bun";
import { SESSION_ANSWER } from "./bare-answer.ts";

const nextUrl = process.env.NEXT_URL;
const waiting = new Map<number, (answer: string) => void>();
let nextId = 1;

const link: Promise<WebSocket> | null = nextUrl
  ? new Promise((resolve, reject) => {
      const ws = new WebSocket(nextUrl);
      ws.addEventListener("open", () => resolve(ws));
      ws.addEventListener("error", () => reject(new Error(`cannot open ${nextUrl}`)));
      ws.addEventListener("message", (event) => {
        const { id, answer } = JSON.parse(String(event.data)) as { id: number; answer: string };
        waiting.get(id)?.(answer);
        waiting.delete(id);
      });
    })
  : null;

/** The answer to a body: the next hop's, or the fixed one at the end of the chain. */
async function answer(body: string): Promise<string> {
  if (!link) return SESSION_ANSWER;
  const ws = await link;
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, body }));
  });
}

const server = Bun.serve<undefined>({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  async fetch(req, srv) {
    if (req.headers.get("upgrade") === "websocket" && srv.upgrade(req, { data: undefined })) return undefined;
    return new Response(await answer(await req.text()), { headers: { "content-type": "application/json" } });
  },
  websocket: {
    async message(ws: ServerWebSocket<undefined>, raw) {
      const { id, body } = JSON.parse(String(raw)) as { id: number; body: string };
      ws.send(JSON.stringify({ id, answer: await answer(body) }));
    },
  },
});
console.log(`info bare ws hop listening url=http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
