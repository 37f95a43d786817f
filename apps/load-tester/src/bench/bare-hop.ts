/**
 * One hop of the benchmark's reference chain: a bare Bun.serve that forwards the request body to the next
 * hop with fetch and returns its answer, or (last hop) answers a fixed session-shaped JSON. It speaks the
 * same URLs and JSON envelope as the real chain, so the same typed client drives both, and does nothing
 * else: no validation, no routing, no telemetry. This is the ceiling the real chain is compared to.
 *   PORT=0 NEXT_URL=http://127.0.0.1:9001 NEXT_PATH=/trpc/dispatch bun bare-hop.ts
 */
import { SESSION_ANSWER } from "./bare-answer.ts";

const next = process.env.NEXT_URL ? `${process.env.NEXT_URL}${process.env.NEXT_PATH ?? ""}` : null;

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  async fetch(req) {
    if (!next) return new Response(SESSION_ANSWER, { headers: { "content-type": "application/json" } });
    const upstream = await fetch(next, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: await req.text(),
    });
    return new Response(await upstream.text(), {
      status: upstream.status,
      headers: { "content-type": "application/json" },
    });
  },
});
console.log(`info bare hop listening url=http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
