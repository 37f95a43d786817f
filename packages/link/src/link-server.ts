import { TRPCError } from "@trpc/server";
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { deadlineFromBudget } from "./deadline.ts";
import { errorShapeOf } from "./error-shape.ts";
import { DEFAULT_MAX_FRAME_BYTES, frames } from "./frames.ts";
import { type HostedSite, hostedSite, hostSite } from "./link-sites.ts";
import { isCall, isParams, type Message, parseFrame, tooMany, unauthorized } from "./messages.ts";
import { resolveProcedures } from "./procedures.ts";
import { RunningCall } from "./running-call.ts";
import type { LinkData, LinkServerOptions } from "./server-types.ts";

type Ws = ServerWebSocket<LinkData>;
const ignore = () => {};

/** Close codes: the WebSocket range for applications (4000-4999), after HTTP's statuses. */
export const LINK_CLOSE = { unauthorized: 4401, badMessage: 4400 } as const;

/**
 * The server end of the grid's internal links: tRPC's own WebSocket protocol (the one @trpc/client's wsLink
 * speaks: JSON `{id, method, params: {path, input}}` in, alone or several in an array, `{id, result: {type,
 * data}}` or `{id, error}` out, PING/PONG, subscriptions started/data/stopped), on Bun's WebSocket server.
 * A client that opens with `?batch=1` (ours) also gets the answers of one turn of the event loop as one array.
 *
 * A link proves the service token before anything runs: at the upgrade (`Authorization: Bearer`), or, for
 * clients that cannot set headers (browsers, tRPC's createWSClient), in tRPC's `connectionParams` message
 * (`?connectionParams=1`, then `{method: "connectionParams", data: {token}}` first). Anything else first,
 * or nothing within `authTimeoutMs`, closes the link; links waiting for it are capped per address. Each call
 * then runs like an HTTP call (every middleware, validator and error format; or, for a procedure the
 * `prepare` option recognised, the same checks prepared once at start), with its own trace context
 * (`traceparent` beside `params`), its own deadline (`budgetMs`: deadline.ts), its site (`site`: another app
 * of this process, link-sites.ts) and its own abort signal (made only if read: running-call.ts), which fires
 * when the link drops or the deadline passes: a waiting dispatch whose caller is gone leaves the queue.
 */
export function linkServer<TContext>(opts: LinkServerOptions<TContext>) {
  // Resolved once: a call looks its procedure up by path, no caller is built per call.
  const procedureAt = resolveProcedures<TContext>(opts.router, opts.prepare);
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxRunning = opts.maxRunning ?? 100_000;
  const open = new Set<Ws>();
  const authTimeoutMs = opts.authTimeoutMs ?? 5000;
  const maxPending = opts.maxPendingPerAddress ?? 16;
  // Links without the token yet, per address, counted from the upgrade (a burst in one tick counts at once).
  const pending = new Map<string, number>();
  const release = (data: LinkData) => {
    if (data.authed) return;
    const n = (pending.get(data.address) ?? 1) - 1;
    if (n > 0) pending.set(data.address, n);
    else pending.delete(data.address);
  };

  // Links with answers queued this turn; flushed together once the turn's I/O is done.
  const dirty = new Set<Ws>();
  const flush = () => {
    for (const ws of dirty) {
      const messages = ws.data.outbox;
      ws.data.outbox = [];
      if (ws.readyState !== 1) continue;
      // Frames no bigger than the client would take from us (the same limit we take from it).
      const texts = messages.map((m) => JSON.stringify(m));
      for (const frame of frames(texts, maxFrameBytes)) ws.send(frame);
    }
    dirty.clear();
  };
  const send = (ws: Ws, message: object) => {
    if (ws.readyState !== 1) return;
    if (!ws.data.batch) return void ws.send(JSON.stringify(message));
    ws.data.outbox.push(message);
    if (dirty.size === 0) setImmediate(flush);
    dirty.add(ws);
  };
  const failWith = (
    reply: (message: object) => void,
    id: string | number | null,
    error: TRPCError,
    path?: string,
    type: "query" | "mutation" | "subscription" | "unknown" = "unknown",
  ) => reply({ id, error: errorShapeOf(opts.router, error, path, type) });

  // Calls running on this app, on its own links or on another site's (the drain waits for them all).
  let runningHere = 0;
  /** Runs a call on this app; `reply` and `running` are the link's it came by (maybe another site's). */
  const run: HostedSite["run"] = async (reply, id, method, params, trace, deadlineAtMs, running) => {
    const procedure = procedureAt(params.path);
    if (!procedure) {
      const error = new TRPCError({ code: "NOT_FOUND", message: `no procedure ${params.path}` });
      return failWith(reply, id, error, params.path);
    }
    if (procedure.type !== method) {
      const message = `${params.path} is a ${procedure.type}, not a ${method}`;
      return failWith(reply, id, new TRPCError({ code: "METHOD_NOT_SUPPORTED", message }), params.path);
    }
    if (running.has(id)) {
      const message = `call id ${id} is already running on this link`;
      return failWith(reply, id, new TRPCError({ code: "BAD_REQUEST", message }), params.path);
    }
    if (running.size >= maxRunning) {
      const message = `at most ${maxRunning} calls at once on one link`;
      return failWith(reply, id, new TRPCError({ code: "TOO_MANY_REQUESTS", message }), params.path);
    }
    // Past its deadline a call is let go as one whose caller hung up: a waiting dispatch leaves the queue.
    const call = new RunningCall(method === "subscription" ? null : deadlineAtMs);
    running.set(id, call);
    runningHere += 1;
    const ctx = opts.createContext(trace, deadlineAtMs);
    try {
      // Prepared once (the link proved the token): no middleware chain, no signal unless the procedure reads it.
      const data = procedure.prepared
        ? await procedure.prepared(ctx, params.input, call)
        : await procedure.call(ctx, params.input, call.signal);
      if (method === "subscription") await stream(reply, id, data as AsyncIterable<unknown>, call.signal);
      else reply({ id, result: { type: "data", data } });
    } catch (err) {
      const error =
        err instanceof TRPCError ? err : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: err });
      if (error.code === "INTERNAL_SERVER_ERROR") opts.onInternalError?.(error, params.path);
      failWith(reply, id, error, params.path, procedure.type);
    } finally {
      call.finish();
      running.delete(id);
      runningHere -= 1;
    }
  };
  const self: HostedSite = { run };
  // The group this app's site is hosted in (host()), if any: calls naming a site are looked up there.
  let group: string | null = null;
  let unhost: (() => void) | null = null;
  const siteFor = (name: unknown) =>
    group !== null && typeof name === "string" ? hostedSite(group, name) : undefined;

  /**
   * A subscription: started, every value as data, then stopped (the client's stop, or the stream's end). A
   * stream that fails ends with its error alone, as tRPC's own server ends it: a client that read `stopped`
   * first would take the failure for a normal end.
   */
  async function stream(
    reply: (message: object) => void,
    id: string | number,
    values: AsyncIterable<unknown>,
    signal: AbortSignal,
  ) {
    reply({ id, result: { type: "started" } });
    const iterator = values[Symbol.asyncIterator]();
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped.then(() => null)]);
        if (next === null || next.done) break;
        reply({ id, result: { type: "data", data: next.value } });
      }
    } catch (err) {
      await iterator.return?.();
      throw err;
    }
    await iterator.return?.();
    reply({ id, result: { type: "stopped" } });
  }

  /** One message of a frame; false when it closed the link (the rest of the frame is dropped). */
  function receive(ws: Ws, msg: Message): boolean {
    if (!ws.data.authed) {
      // Only the connectionParams message may come first, and it must carry the service token.
      const token =
        msg.method === "connectionParams" ? (msg.data as { token?: unknown } | null)?.token : undefined;
      if (typeof token === "string" && opts.authorize(`Bearer ${token}`)) {
        release(ws.data);
        ws.data.authed = true;
        clearTimeout(ws.data.authTimer);
        return true;
      }
      ws.close(LINK_CLOSE.unauthorized, "send the service token first");
      return false;
    }
    if (msg.method === "subscription.stop") {
      // Stops a subscription, or (our extension) tells a running call its caller is gone.
      if (msg.id !== null && msg.id !== undefined) ws.data.running.get(msg.id)?.abort();
      return true;
    }
    if (msg.id === null || msg.id === undefined || !isCall(msg.method) || !isParams(msg.params)) {
      const error = new TRPCError({
        code: "BAD_REQUEST",
        message: "a call needs an id, a method and params.path",
      });
      failWith(ws.data.reply, msg.id ?? null, error);
      return true;
    }
    // A call for another site of this process (link-sites.ts), or for this app.
    const site = msg.site === undefined ? self : siteFor(msg.site);
    if (!site) {
      // Not run: marked so our client takes it as a refused link (certainly not run) and calls directly.
      const message = `no site ${String(msg.site)} shares this link's process and token`;
      const error = new TRPCError({ code: "NOT_FOUND", message });
      ws.data.reply({
        id: msg.id,
        error: errorShapeOf(opts.router, error, msg.params.path),
        siteMissing: true,
      });
      return true;
    }
    // The call's budget becomes a deadline on this host's clock as it is read (deadline.ts).
    void site.run(
      ws.data.reply,
      msg.id,
      msg.method,
      msg.params,
      { traceparent: msg.traceparent, tracestate: msg.tracestate },
      deadlineFromBudget(msg.budgetMs),
      ws.data.running,
    );
    return true;
  }

  const websocket: WebSocketHandler<LinkData> = {
    // A message over the body limit closes the link (1009): it cannot be a call of ours.
    maxPayloadLength: maxFrameBytes,
    idleTimeout: 120,
    open(ws) {
      open.add(ws);
      ws.data.reply = (message) => send(ws, message);
      // An unauthenticated link holds a socket for nothing: it gets a few seconds, not the idle timeout.
      if (!ws.data.authed) {
        ws.data.authTimer = setTimeout(
          () => ws.close(LINK_CLOSE.unauthorized, `no service token within ${authTimeoutMs} ms`),
          authTimeoutMs,
        );
      }
    },
    message(ws, raw) {
      const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
      if (text === "PING") return void ws.send("PONG");
      if (text === "PONG") return;
      const parsed = parseFrame(text);
      if (!parsed) return ws.close(LINK_CLOSE.badMessage, "not a tRPC message");
      for (const msg of parsed) {
        if (!receive(ws, msg)) return;
      }
    },
    close(ws) {
      clearTimeout(ws.data.authTimer);
      release(ws.data);
      open.delete(ws);
      dirty.delete(ws);
      for (const call of ws.data.running.values()) call.abort();
      ws.data.running.clear();
    },
  };

  /**
   * Shutting down: lets the calls running on every link finish (at most `timeoutMs`), then closes the
   * links as "going away" (1001); their peers open new ones, to wherever the app comes back.
   */
  async function drain(timeoutMs: number): Promise<void> {
    unhost?.();
    unhost = null;
    const deadline = Date.now() + timeoutMs;
    const busy = () => runningHere > 0 || [...open].some((ws) => ws.data.running.size > 0);
    while (busy() && Date.now() < deadline) await Bun.sleep(10);
    flush(); // the last answers, before the links close
    for (const ws of open) ws.close(1001, "shutting down");
  }

  return {
    websocket,
    drain,
    /**
     * Takes calls for `site` on links to any app of `linkGroup` in this process (link-sites.ts), and lets
     * calls on its own links reach the group's other sites. False if the group has a site by that name.
     */
    host(linkGroup: string, site: string): boolean {
      group = linkGroup;
      unhost = hostSite(linkGroup, site, self);
      return unhost !== null;
    },
    /**
     * Takes `GET /trpc` with `Upgrade: websocket` if it shows the service token (or will, in connectionParams);
     * answers 401 otherwise, before any WebSocket opens. Undefined when upgraded.
     */
    upgrade(req: Request, server: Server<LinkData>): Response | undefined {
      const url = new URL(req.url);
      const authed = opts.authorize(req.headers.get("authorization"));
      const willSend = url.searchParams.get("connectionParams") === "1";
      if (!authed && !willSend) return unauthorized();
      const ip = server.requestIP(req)?.address ?? "unknown";
      const address = opts.addressKey ? opts.addressKey(ip) : ip;
      if (!authed) {
        const count = pending.get(address) ?? 0;
        if (count >= maxPending) return tooMany(maxPending);
        pending.set(address, count + 1);
      }
      const batch = url.searchParams.get("batch") === "1";
      const data: LinkData = { authed, running: new Map(), batch, outbox: [], address, reply: ignore };
      if (server.upgrade(req, { data })) return undefined;
      release(data);
      return Response.json({ error: "expected a WebSocket upgrade" }, { status: 400 });
    },
  };
}
